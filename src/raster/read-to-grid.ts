import { allocateRaster, openCog, type CogInfo, type CogLevel, type PixelWindow, type TileDecoder } from './cog-reader';
import { emptyStats, type RangeClient } from './http-client';
import type { TileCache } from './tile-cache';
import type { Grid, Resampling, TypedArrayOf } from './types';
import { transformer } from './crs';
import { gridToSourcePixels, invertGeoTransform, warp, type NearestMapCache } from './warp';

export { readInfo } from './cog-reader';

export interface ReadToGridOptions {
  resampling?: Resampling;
  /** Output nodata; defaults to the file's nodata, else 0. */
  nodata?: number;
  signal?: AbortSignal;
  client?: RangeClient;
  cache?: TileCache;
  /** Zero-based band of the file to read. */
  sampleBand?: number;
  decoder?: TileDecoder;
  /** Nearest index maps shared by reads onto the same grid (bands of a scene, scenes of one tile). */
  maps?: NearestMapCache;
}

export interface ReadToGridResult {
  data: TypedArrayOf;
  bytesRead: number;
  requests: number;
  /** Level read: 0 = full resolution, then the overviews from finest to coarsest. */
  level: number;
}

const LEVEL_RATIO_TOLERANCE = 0.001;

/**
 * gdalwarp's overview choice (-ovr AUTO, GDAL 3.6): the coarsest level whose downsampling ratio does not exceed
 * the target ratio (output pixel size in full-resolution source pixels); GDAL's 0.1 tolerance only makes a
 * level whose ratio equals the target count as not exceeding it.
 */
export function chooseOverviewLevel(levels: readonly Pick<CogLevel, 'width'>[], targetRatio: number): number {
  if (!(targetRatio > 1)) return 0;
  const ratio = (index: number) => levels[0].width / levels[index].width;
  let index = 0;
  for (; index < levels.length - 1; index++) {
    // A target within 0.1% of the next level's ratio counts as that level: a 20 m grid over 10 m data reprojected
    // from the next UTM zone comes out at 1.9998 because of the scale factor, and GDAL reads the 20 m overview too.
    if (ratio(index) < targetRatio && ratio(index + 1) > targetRatio * (1 + LEVEL_RATIO_TOLERANCE)) break;
    if (Math.abs(ratio(index) - targetRatio) < 0.1) break;
  }
  return index;
}

/** Grid pixel positions along its four edges, 21 per edge. */
function gridEdgePoints(grid: Grid): [number, number][] {
  const points: [number, number][] = [];
  const steps = 20;
  for (let i = 0; i <= steps; i++) {
    const fx = (grid.width * i) / steps;
    const fy = (grid.height * i) / steps;
    points.push([fx, 0], [fx, grid.height], [0, fy], [grid.width, fy]);
  }
  return points;
}

/**
 * Output pixel size in full-resolution source pixels, as gdalwarp estimates it (GDALSuggestedWarpOutput2): the
 * source's top-left to bottom-right diagonal in source pixels over the same diagonal mapped to grid pixels.
 */
export function targetRatio(grid: Grid, info: CogInfo): number {
  const toGrid = transformer(info.epsg!, grid.epsg);
  const [s0, s1, s2, s3, s4, s5] = info.geoTransform;
  const [i0, i1, i2, i3, i4, i5] = invertGeoTransform(grid.transform);
  const toGridPixel = (px: number, py: number) => {
    const [x, y] = toGrid(s0 + px * s1 + py * s2, s3 + px * s4 + py * s5);
    return [i0 + x * i1 + y * i2, i3 + x * i4 + y * i5];
  };
  const [a, b] = [toGridPixel(0, 0), toGridPixel(info.width, info.height)];
  return Math.hypot(info.width, info.height) / Math.hypot(b[0] - a[0], b[1] - a[1]);
}

/** The level's pixel window covering the grid's footprint plus a margin, clipped to the level; undefined if disjoint. */
export function sourceWindow(grid: Grid, info: CogInfo, level: CogLevel, margin: number): PixelWindow | undefined {
  const toSource = gridToSourcePixels(grid, info.epsg!, level.geoTransform);
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [px, py] of gridEdgePoints(grid)) {
    const [x, y] = toSource(px, py);
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  }
  const x0 = Math.max(0, Math.floor(minX) - margin);
  const y0 = Math.max(0, Math.floor(minY) - margin);
  const x1 = Math.min(level.width, Math.ceil(maxX) + margin);
  const y1 = Math.min(level.height, Math.ceil(maxY) + margin);
  if (!(x1 > x0 && y1 > y0)) return undefined;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * When the grid is the level's own pixel lattice (same CRS, same north-up pixel size, whole-pixel offset),
 * the window of the level it covers: then every output pixel centre is a source pixel centre, so nearest and
 * bilinear both reduce to a copy.
 */
export function alignedWindow(grid: Grid, info: CogInfo, level: CogLevel): PixelWindow | undefined {
  if (grid.epsg !== info.epsg) return undefined;
  const [gx, ga, gb, gy, gd, ge] = grid.transform;
  const [sx, sa, sb, sy, sd, se] = level.geoTransform;
  if (gb !== 0 || gd !== 0 || sb !== 0 || sd !== 0) return undefined;
  const tolerance = 1e-9;
  if (Math.abs(ga - sa) > Math.abs(sa) * tolerance || Math.abs(ge - se) > Math.abs(se) * tolerance) return undefined;
  const offsetX = (gx - sx) / sa;
  const offsetY = (gy - sy) / se;
  const x = Math.round(offsetX);
  const y = Math.round(offsetY);
  if (Math.abs(offsetX - x) > 1e-6 || Math.abs(offsetY - y) > 1e-6) return undefined;
  return { x, y, width: grid.width, height: grid.height };
}

function abortIfNeeded(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('The operation was aborted');
}

/**
 * Reads a COG onto a grid in one call: picks the overview for the grid's resolution, reads only the tiles
 * covering the grid's footprint and resamples them onto the grid.
 */
export async function readToGrid(url: string, grid: Grid, options: ReadToGridOptions = {}): Promise<ReadToGridResult> {
  const stats = emptyStats();
  const settings = { signal: options.signal, client: options.client, cache: options.cache, stats, decoder: options.decoder };
  const reader = await openCog(url, settings);
  const { info } = reader;
  if (info.epsg === undefined) throw new Error(`${url}: CRS without an EPSG code is not supported`);
  const levelIndex = chooseOverviewLevel(info.levels, targetRatio(grid, info));
  const level = info.levels[levelIndex];
  const nodata = options.nodata ?? info.nodata ?? 0;
  const readOptions = { ...settings, band: options.sampleBand ?? 0 };
  const result = (data: TypedArrayOf): ReadToGridResult => ({ data, bytesRead: stats.bytesRead, requests: stats.requests, level: levelIndex });

  const aligned = alignedWindow(grid, info, level);
  if (aligned) {
    const data = await reader.readWindow(levelIndex, aligned, { ...readOptions, fill: nodata });
    if (info.nodata !== undefined && nodata !== info.nodata) replaceValue(data, info.nodata, nodata);
    return result(data);
  }

  const window = sourceWindow(grid, info, level, options.resampling === 'bilinear' ? 2 : 1);
  if (!window) {
    abortIfNeeded(options.signal);
    const empty = allocateRaster(info.dataType, grid.width * grid.height);
    if (nodata !== 0) empty.fill(nodata);
    return result(empty);
  }
  const source = await reader.readWindow(levelIndex, window, readOptions);
  abortIfNeeded(options.signal);
  const data = warp(
    { data: source, width: window.width, height: window.height, offsetX: window.x, offsetY: window.y, geoTransform: level.geoTransform, epsg: info.epsg, nodata: info.nodata },
    grid,
    { resampling: options.resampling, nodata, maps: options.maps },
  );
  return result(data);
}

function replaceValue(data: TypedArrayOf, from: number, to: number): void {
  const matches = Number.isNaN(from) ? (v: number) => v !== v : (v: number) => v === from;
  for (let i = 0; i < data.length; i++) if (matches(data[i])) data[i] = to;
}
