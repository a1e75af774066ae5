import { gridFootprintWgs84 } from '../raster/grid';
import type { DataType, Grid, TypedArrayOf } from '../raster/types';
import type { StacItem, StacLink } from './types';

export const STAC_VERSION = '1.0.0';
export const EXTENSIONS = {
  eo: 'https://stac-extensions.github.io/eo/v1.0.0/schema.json',
  projection: 'https://stac-extensions.github.io/projection/v1.0.0/schema.json',
  raster: 'https://stac-extensions.github.io/raster/v1.0.0/schema.json',
  processing: 'https://stac-extensions.github.io/processing/v1.1.0/schema.json',
} as const;

export const CATALOG_ID = 'monthly-mosaics';
export const CATALOG_TITLE = 'Monthly Mosaics';
export const CATALOG_DESCRIPTION = 'Monthly mosaics of Sentinel-2 data';
export const COG_MEDIA_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized';
const JSON_MEDIA_TYPE = 'application/json';

/** raster extension v1.0.0 statistics. */
export interface BandStatistics {
  minimum?: number;
  maximum?: number;
  mean?: number;
  stddev?: number;
  valid_percent: number;
}

export interface MosaicBand {
  /** Band name as requested (e.g. `red` or `B04`). */
  name: string;
  /** eo:bands common name, when the band has one. */
  commonName?: string;
  description?: string;
  nodata?: number;
  statistics?: BandStatistics;
  scale?: number;
  offset?: number;
}

export interface MosaicItemInput {
  /** Calendar month `YYYY-MM`. */
  month: string;
  grid: Grid;
  dataType: DataType;
  bands: MosaicBand[];
  /** Acquisition datetimes of the scenes that went into the month (RFC 3339, UTC). */
  acquisitions: string[];
  /** Ids of the source scenes, and optionally their item URLs (written as `derived_from` links). */
  sources: { id: string; href?: string }[];
  sourceCollection?: string;
  /** Adds a `visual` asset (8-bit RGB rendering), stored next to the data file. */
  visual?: boolean;
  lineage?: string;
  software?: Record<string, string>;
  /** Asset hrefs relative to the item's folder; defaults from `monthlyMosaicPaths`. */
  dataHref?: string;
  visualHref?: string;
}

export interface CatalogInput {
  items: MosaicItemInput[];
}

/** Where a month's files live relative to the catalog root (pystac's layout: one folder per item). */
export function monthlyMosaicPaths(month: string): { id: string; folder: string; item: string; data: string; visual: string } {
  if (!/^\d{4}-\d{2}$/.test(month)) throw new Error(`month must be YYYY-MM, got "${month}"`);
  const id = `monthly-mosaic-${month}`;
  return { id, folder: id, item: `${id}/${id}.json`, data: `${id}/${id}.tif`, visual: `${id}/${id}-visual.tif` };
}

/** Statistics of one band's pixels, nodata excluded (raster extension v1.0.0 field names). */
export function bandStatistics(data: TypedArrayOf | ArrayLike<number>, nodata?: number): BandStatistics {
  let count = 0;
  let sum = 0;
  let sumSquares = 0;
  let minimum = Infinity;
  let maximum = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (value === nodata || Number.isNaN(value)) continue;
    count++;
    sum += value;
    sumSquares += value * value;
    if (value < minimum) minimum = value;
    if (value > maximum) maximum = value;
  }
  const validPercent = data.length === 0 ? 0 : (100 * count) / data.length;
  if (count === 0) return { valid_percent: 0 };
  const mean = sum / count;
  const stddev = Math.sqrt(Math.max(0, sumSquares / count - mean * mean));
  return { minimum, maximum, mean, stddev, valid_percent: validPercent };
}

function sortedTimes(acquisitions: string[]): string[] {
  if (acquisitions.length === 0) throw new Error('a monthly mosaic needs at least one acquisition');
  return acquisitions.map((time) => new Date(time).toISOString()).sort();
}

/** GDAL geotransform → rasterio/affine order [a, b, c, d, e, f] (x = a·col + b·row + c; y = d·col + e·row + f). */
export function affineTransform([originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight]: Grid['transform']): number[] {
  return [pixelWidth, rowRotation, originX, columnRotation, pixelHeight, originY];
}

function defaultLineage(input: MosaicItemInput): string {
  return (
    `Per-pixel median of ${input.sources.length} Sentinel-2 L2A scene(s) acquired in ${input.month}` +
    `${input.sourceCollection ? ` (collection ${input.sourceCollection})` : ''}, clouds, shadows and nodata masked ` +
    'with the scene classification (SCL), reprojected to one grid; baseline ≥ 04.00 scenes shifted by -1000 DN.'
  );
}

function rasterBands(input: MosaicItemInput) {
  const resolution = Math.abs(input.grid.transform[1]);
  return input.bands.map((band) => ({
    data_type: input.dataType,
    ...(band.nodata !== undefined ? { nodata: band.nodata } : {}),
    ...(band.scale !== undefined ? { scale: band.scale } : {}),
    ...(band.offset !== undefined ? { offset: band.offset } : {}),
    spatial_resolution: resolution,
    ...(band.statistics ? { statistics: band.statistics } : {}),
  }));
}

function eoBands(input: MosaicItemInput) {
  return input.bands.map((band) => ({
    name: band.name,
    ...(band.commonName ? { common_name: band.commonName } : {}),
    ...(band.description ? { description: band.description } : {}),
  }));
}

/** The STAC item of one month (self-contained layout: item in `monthly-mosaic-YYYY-MM/`, catalog one level up). */
export function buildMosaicItem(input: MosaicItemInput): StacItem {
  const paths = monthlyMosaicPaths(input.month);
  const times = sortedTimes(input.acquisitions);
  const { ring, bbox } = gridFootprintWgs84(input.grid);
  const fileName = (relative: string) => `./${relative.split('/').pop()}`;
  const assets: StacItem['assets'] = {
    data: {
      href: input.dataHref ?? fileName(paths.data),
      type: COG_MEDIA_TYPE,
      title: `Median composite, bands ${input.bands.map((band) => band.name).join(', ')}`,
      roles: ['data'],
      'eo:bands': eoBands(input),
      'raster:bands': rasterBands(input),
    },
  };
  if (input.visual) {
    assets.visual = { href: input.visualHref ?? fileName(paths.visual), type: COG_MEDIA_TYPE, title: 'True colour (8-bit RGB)', roles: ['visual'] };
  }
  const links: StacLink[] = [
    { rel: 'root', href: '../catalog.json', type: JSON_MEDIA_TYPE, title: CATALOG_TITLE },
    { rel: 'parent', href: '../catalog.json', type: JSON_MEDIA_TYPE, title: CATALOG_TITLE },
    ...input.sources.filter((source) => source.href).map((source) => ({ rel: 'derived_from', href: source.href!, type: 'application/geo+json', title: source.id })),
  ];
  return {
    type: 'Feature',
    stac_version: STAC_VERSION,
    stac_extensions: [EXTENSIONS.eo, EXTENSIONS.projection, EXTENSIONS.raster, EXTENSIONS.processing],
    id: paths.id,
    geometry: { type: 'Polygon', coordinates: [ring] },
    bbox,
    properties: {
      // As the reference (rio-stac's input_datetime): the first acquisition of the month; start/end give the range.
      datetime: times[0],
      start_datetime: times[0],
      end_datetime: times[times.length - 1],
      'proj:epsg': input.grid.epsg,
      'proj:shape': [input.grid.height, input.grid.width],
      'proj:transform': affineTransform(input.grid.transform),
      'processing:lineage': input.lineage ?? defaultLineage(input),
      'processing:level': 'L3',
      ...(input.software ? { 'processing:software': input.software } : {}),
      'mosaic:sources': input.sources.map((source) => source.id),
      ...(input.sourceCollection ? { 'mosaic:collection': input.sourceCollection } : {}),
    },
    links,
    assets,
  };
}

export interface StacCatalog {
  type: 'Catalog';
  stac_version: string;
  id: string;
  title: string;
  description: string;
  links: StacLink[];
}

/** The root catalog (pystac CatalogType.SELF_CONTAINED: relative hrefs, a root link, no self link). */
export function buildCatalog(itemMonths: string[]): StacCatalog {
  return {
    type: 'Catalog',
    stac_version: STAC_VERSION,
    id: CATALOG_ID,
    title: CATALOG_TITLE,
    description: CATALOG_DESCRIPTION,
    links: [
      { rel: 'root', href: './catalog.json', type: JSON_MEDIA_TYPE, title: CATALOG_TITLE },
      ...itemMonths.map((month) => ({ rel: 'item', href: `./${monthlyMosaicPaths(month).item}`, type: JSON_MEDIA_TYPE })),
    ],
  };
}

export type WriteFile = (relative: string, data: string) => Promise<void>;

/** Writes every item, then `catalog.json`, so a reader that sees the catalog finds all its items. Returns the paths written. */
export async function writeCatalog(writeFile: WriteFile, input: CatalogInput): Promise<{ catalog: string; items: string[] }> {
  const months = input.items.map((item) => item.month);
  if (new Set(months).size !== months.length) throw new Error('one item per month: duplicate months in the catalog input');
  const written: string[] = [];
  for (const item of input.items) {
    const path = monthlyMosaicPaths(item.month).item;
    await writeFile(path, `${JSON.stringify(buildMosaicItem(item), null, 2)}\n`);
    written.push(path);
  }
  await writeFile('catalog.json', `${JSON.stringify(buildCatalog(months), null, 2)}\n`);
  return { catalog: 'catalog.json', items: written };
}
