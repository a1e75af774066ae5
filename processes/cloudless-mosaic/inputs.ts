import type { InputProblem } from '../../src/ogc/process';
import { isSupportedCrs, utmEpsgFor } from '../../src/raster/crs';
import { gridForBbox, type Bbox } from '../../src/raster/grid';
import type { Grid } from '../../src/raster/types';
import { SENTINEL2_BAND_NAMES } from '../../src/stac/bands';

export const PLANETARY_COMPUTER_STAC = 'https://planetarycomputer.microsoft.com/api/stac/v1';
export const EARTH_SEARCH_STAC = 'https://earth-search.aws.element84.com/v1';
const METRES_PER_DEGREE = 111_320;
const DEFAULT_MAX_OUTPUT_PIXELS = 50_000_000;

/** The validated request of one mosaic job. */
export interface MosaicRequest {
  startDate: string;
  endDate: string;
  bbox: Bbox;
  bands: string[];
  collection: string;
  resolution: number;
  maxItems: number;
  maxCloudCover: number;
  stacApi: string;
  mask: number[];
  harmonize: boolean;
  epsg: number;
}

export function allowedStacApis(): string[] {
  const configured = process.env.ALLOWED_STAC_APIS;
  const list = configured ? configured.split(',') : [PLANETARY_COMPUTER_STAC, EARTH_SEARCH_STAC];
  return list.map(normalizeUrl).filter(Boolean);
}

export function maxOutputPixels(): number {
  return Number(process.env.MAX_OUTPUT_PIXELS) || DEFAULT_MAX_OUTPUT_PIXELS;
}

function normalizeUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/** `"minlon,minlat,maxlon,maxlat"` or an OGC bbox object → numbers (unchecked). */
export function parseAoi(aoi: unknown): number[] {
  if (typeof aoi === 'string') return aoi.split(',').map((part) => Number(part.trim()));
  if (aoi && typeof aoi === 'object' && Array.isArray((aoi as { bbox?: unknown }).bbox)) {
    return ((aoi as { bbox: unknown[] }).bbox).map(Number);
  }
  return [];
}

function bboxProblem(values: number[]): string | undefined {
  if (values.length !== 4 || values.some((v) => !Number.isFinite(v))) return 'must be four numbers: minlon,minlat,maxlon,maxlat';
  const [minLon, minLat, maxLon, maxLat] = values;
  if ([minLon, maxLon].some((lon) => lon < -180 || lon > 180)) return 'longitudes must be within [-180, 180]';
  if ([minLat, maxLat].some((lat) => lat < -90 || lat > 90)) return 'latitudes must be within [-90, 90]';
  if (minLon >= maxLon || minLat >= maxLat) return 'minimum must be below maximum on both axes';
  return undefined;
}

function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

/** The grid's resolution in CRS units: metres, or degrees at the equator for a geographic CRS. */
export function resolutionInCrsUnits(epsg: number, metres: number): number {
  return epsg === 4326 ? metres / METRES_PER_DEGREE : metres;
}

export function outputGrid(request: MosaicRequest): Grid {
  return gridForBbox(request.bbox, request.epsg, resolutionInCrsUnits(request.epsg, request.resolution));
}

/** Input problems JSON Schema cannot see; inputs have their defaults applied. Empty when the request is valid. */
export function checkMosaicInputs(inputs: Record<string, unknown>): InputProblem[] {
  const problems: InputProblem[] = [];
  const problem = (input: string, detail: string) => problems.push({ input, detail });
  const { 'start-date': start, 'end-date': end } = inputs;
  if (!isCalendarDate(start)) problem('start-date', `"${String(start)}" is not a date (YYYY-MM-DD)`);
  if (!isCalendarDate(end)) problem('end-date', `"${String(end)}" is not a date (YYYY-MM-DD)`);
  if (isCalendarDate(start) && isCalendarDate(end) && end < start) problem('end-date', `${end} is before start-date ${start}`);

  const aoiProblem = bboxProblem(parseAoi(inputs.aoi));
  if (aoiProblem) problem('aoi', aoiProblem);

  const bands = inputs.bands as string[];
  const unknown = bands.filter((band) => !SENTINEL2_BAND_NAMES.includes(band));
  if (unknown.length) problem('bands', `unknown band ${unknown.join(', ')}; known: ${SENTINEL2_BAND_NAMES.join(', ')}`);
  if (new Set(bands).size !== bands.length) problem('bands', 'a band is listed twice');

  const resolution = Number(inputs.resolution);
  if (!(resolution > 0) || !Number.isFinite(resolution)) problem('resolution', 'must be a number of metres above 0');

  const api = normalizeUrl(String(inputs.stac_api));
  if (!allowedStacApis().includes(api)) problem('stac_api', `${api} is not an allowed STAC API (${allowedStacApis().join(', ')})`);

  if (inputs.crs !== undefined && !isSupportedCrs(Number(inputs.crs))) {
    problem('crs', `EPSG:${inputs.crs} is not supported: use a WGS84 UTM zone (326xx/327xx), 4326 or 3857`);
  }
  if (problems.length === 0) {
    const grid = outputGrid(toMosaicRequest(inputs));
    const pixels = grid.width * grid.height;
    if (pixels > maxOutputPixels()) {
      problem('resolution', `the AOI at ${resolution} m is ${grid.width} × ${grid.height} pixels, above the limit of ${maxOutputPixels()}; use a coarser resolution or a smaller aoi`);
    }
  }
  return problems;
}

/** Inputs (validated, defaults applied) → the request; the output CRS defaults to the UTM zone of the AOI centre. */
export function toMosaicRequest(inputs: Record<string, unknown>): MosaicRequest {
  const bbox = parseAoi(inputs.aoi) as Bbox;
  const epsg = inputs.crs !== undefined ? Number(inputs.crs) : utmEpsgFor((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2);
  return {
    startDate: String(inputs['start-date']),
    endDate: String(inputs['end-date']),
    bbox,
    bands: inputs.bands as string[],
    collection: String(inputs.collection),
    resolution: Number(inputs.resolution),
    maxItems: Number(inputs.max_items),
    maxCloudCover: Number(inputs.max_cloud_cover),
    stacApi: normalizeUrl(String(inputs.stac_api)),
    mask: (inputs.mask as number[]) ?? [],
    harmonize: inputs.harmonize !== false,
    epsg,
  };
}
