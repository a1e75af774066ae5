import type { EoBand, RasterBand, StacAsset, StacItem } from './types';

/** Sentinel-2 MSI bands: common name → band id. `rededge` alone means B05. B10 (cirrus) is absent from L2A. */
const BAND_IDS: Record<string, string> = {
  coastal: 'B01',
  blue: 'B02',
  green: 'B03',
  red: 'B04',
  rededge: 'B05',
  rededge1: 'B05',
  rededge2: 'B06',
  rededge3: 'B07',
  nir: 'B08',
  nir08: 'B8A',
  nir09: 'B09',
  cirrus: 'B10',
  swir16: 'B11',
  swir22: 'B12',
};

/** Valid band names of a request: common names and band ids (B01…B12, B8A). */
export const SENTINEL2_BAND_NAMES: readonly string[] = [...Object.keys(BAND_IDS), ...new Set(Object.values(BAND_IDS))];

/** Asset keys Earth Search uses per band id (pre-1.1 items have no eo:bands on the asset). */
const EARTH_SEARCH_KEYS: Record<string, string[]> = {
  B01: ['coastal'],
  B02: ['blue'],
  B03: ['green'],
  B04: ['red'],
  B05: ['rededge1', 'rededge'],
  B06: ['rededge2'],
  B07: ['rededge3'],
  B08: ['nir'],
  B8A: ['nir08'],
  B09: ['nir09'],
  B10: ['cirrus'],
  B11: ['swir16'],
  B12: ['swir22'],
};

const SCL_KEYS = ['SCL', 'scl'];

/** DN added by processing baseline 04.00 (January 2022) to every reflectance band; undone by `dnOffset`. */
const BASELINE_04_DN_OFFSET = 1000;

export class UnknownBandError extends Error {
  constructor(readonly band: string) {
    super(`unknown Sentinel-2 band '${band}'; valid names: ${SENTINEL2_BAND_NAMES.join(', ')}`);
    this.name = 'UnknownBandError';
  }
}

export class MissingAssetError extends Error {
  constructor(
    readonly itemId: string,
    readonly band: string,
  ) {
    super(`item ${itemId} has no asset for band '${band}'`);
    this.name = 'MissingAssetError';
  }
}

/** The band id (B01…B12, B8A) of a requested name; throws UnknownBandError. */
export function bandIdOf(name: string): string {
  const id = BAND_IDS[name.toLowerCase()] ?? bandIdFromName(name);
  if (!id) throw new UnknownBandError(name);
  return id;
}

/** Throws UnknownBandError for the first name that is not a Sentinel-2 band. */
export function assertKnownBands(names: readonly string[]): void {
  for (const name of names) bandIdOf(name);
}

export interface ResolvedBand {
  /** The requested name, as given. */
  band: string;
  assetKey: string;
  href: string;
  /** physical = DN * scale + offset, as the asset declares (scale 1, offset 0 when undeclared). */
  scale: number;
  offset: number;
  nodata?: number;
  /** Add to raw DN to get pre-04.00 DN: -1000 for processing baseline ≥ 04.00, otherwise 0. */
  dnOffset: number;
}

export interface ResolvedItem {
  itemId: string;
  datetime: string;
  bands: ResolvedBand[];
  scl: { assetKey: string; href: string };
  processingBaseline?: string;
}

function assetBands(asset: StacAsset): EoBand[] {
  if (asset['eo:bands']) return asset['eo:bands'];
  return (asset.bands ?? []).map((band) => ({ name: band.name, common_name: band.common_name ?? band['eo:common_name'] }));
}

function rasterBand(asset: StacAsset): RasterBand | undefined {
  return asset['raster:bands']?.[0] ?? asset.bands?.[0];
}

/** B4, B04, b8a → the canonical band id, or undefined. */
function bandIdFromName(name: string): string | undefined {
  const match = /^B0?(\d{1,2}|8A)$/i.exec(name);
  if (!match) return undefined;
  const id = match[1].toUpperCase() === '8A' ? 'B8A' : `B${match[1].padStart(2, '0')}`;
  return Object.values(BAND_IDS).includes(id) ? id : undefined;
}

/** The band id an asset holds, from its eo:bands / bands metadata, when it holds exactly one band. */
function declaredBandId(asset: StacAsset): string | undefined {
  const bands = assetBands(asset);
  if (bands.length !== 1) return undefined;
  const { name, common_name: commonName } = bands[0];
  return (name ? bandIdFromName(name) : undefined) ?? (commonName ? BAND_IDS[commonName.toLowerCase()] : undefined);
}

/** Asset key of a band: first by declared band metadata, then by the keys Planetary Computer and Earth Search use. */
function findBandAsset(item: StacItem, bandId: string): string | undefined {
  const keys = Object.keys(item.assets).filter((key) => !/jp2$/i.test(key));
  const declared = keys.find((key) => declaredBandId(item.assets[key]) === bandId);
  if (declared) return declared;
  const candidates = [bandId, ...(EARTH_SEARCH_KEYS[bandId] ?? [])];
  return candidates.find((key) => key in item.assets);
}

/** `s2:processing_baseline` (Planetary Computer) or `processing:version` / `s2:processing_baseline` (Earth Search). */
export function processingBaseline(item: StacItem): string | undefined {
  const value = item.properties['s2:processing_baseline'] ?? item.properties['processing:version'];
  return typeof value === 'string' ? value : typeof value === 'number' ? value.toFixed(2) : undefined;
}

/** DN offset to bring an item's raw values to pre-04.00 DN. */
export function dnOffsetOf(item: StacItem): number {
  const baseline = processingBaseline(item);
  return baseline !== undefined && Number.parseFloat(baseline) >= 4 ? -BASELINE_04_DN_OFFSET : 0;
}

function numericNodata(band: RasterBand | undefined): number | undefined {
  return typeof band?.nodata === 'number' ? band.nodata : undefined;
}

/**
 * Resolves requested band names to one item's assets. Throws UnknownBandError for a name that is not a
 * Sentinel-2 band and MissingAssetError when the item lacks the band or its SCL.
 */
export function resolveItemBands(item: StacItem, bands: readonly string[]): ResolvedItem {
  const dnOffset = dnOffsetOf(item);
  const resolved = bands.map((band): ResolvedBand => {
    const bandId = bandIdOf(band);
    const assetKey = findBandAsset(item, bandId);
    if (!assetKey) throw new MissingAssetError(item.id, band);
    const asset = item.assets[assetKey];
    const raster = rasterBand(asset);
    return {
      band,
      assetKey,
      href: asset.href,
      scale: raster?.scale ?? 1,
      offset: raster?.offset ?? 0,
      nodata: numericNodata(raster) ?? 0,
      dnOffset,
    };
  });
  const sclKey = SCL_KEYS.find((key) => key in item.assets);
  if (!sclKey) throw new MissingAssetError(item.id, 'SCL');
  return {
    itemId: item.id,
    datetime: String(item.properties.datetime ?? item.properties.start_datetime ?? ''),
    bands: resolved,
    scl: { assetKey: sclKey, href: item.assets[sclKey].href },
    processingBaseline: processingBaseline(item),
  };
}
