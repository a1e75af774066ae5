import { createApproxTransformer, DEFAULT_MAX_ERROR, type PointTransform } from './approx-transformer';
import { transformer } from './crs';
import { allocateRaster } from './cog-reader';
import type { DataType, GeoTransform, Grid, Resampling, TypedArrayOf } from './types';

/** A block of source pixels: `width`×`height` pixels starting at (offsetX, offsetY) of a raster level. */
export interface WarpSource {
  data: TypedArrayOf;
  width: number;
  height: number;
  offsetX: number;
  offsetY: number;
  /** Transform of the whole level (its pixel 0,0), pixel-is-area. */
  geoTransform: GeoTransform;
  epsg: number;
  nodata?: number;
}

export interface WarpOptions {
  resampling?: Resampling;
  /** Output value where there is no source pixel; defaults to the source nodata, else 0. */
  nodata?: number;
  /** Approximation error threshold in source pixels (GDAL's default 0.125; 0 = exact transform everywhere). */
  maxError?: number;
  /** Nearest index maps to reuse across calls with the same geometry. */
  maps?: NearestMapCache;
}

/** GDALInvGeoTransform, including its special case for north-up transforms (kept for bit-identical results). */
export function invertGeoTransform(gt: GeoTransform): GeoTransform {
  if (gt[2] === 0 && gt[4] === 0 && gt[1] !== 0 && gt[5] !== 0) {
    return [-gt[0] / gt[1], 1 / gt[1], 0, -gt[3] / gt[5], 0, 1 / gt[5]];
  }
  const determinant = gt[1] * gt[5] - gt[2] * gt[4];
  if (determinant === 0) throw new Error('geotransform is not invertible');
  const inverse = 1 / determinant;
  return [
    (gt[2] * gt[3] - gt[0] * gt[5]) * inverse,
    gt[5] * inverse,
    -gt[2] * inverse,
    (-gt[1] * gt[3] + gt[0] * gt[4]) * inverse,
    -gt[4] * inverse,
    gt[1] * inverse,
  ];
}

/** Exact mapping from grid pixel coordinates to source-level pixel coordinates (GDAL's GenImgProj transformer). */
export function gridToSourcePixels(grid: Grid, sourceEpsg: number, sourceGeoTransform: GeoTransform): PointTransform {
  const [g0, g1, g2, g3, g4, g5] = grid.transform;
  const [i0, i1, i2, i3, i4, i5] = invertGeoTransform(sourceGeoTransform);
  const reproject = transformer(grid.epsg, sourceEpsg);
  return (px, py) => {
    const [x, y] = reproject(g0 + px * g1 + py * g2, g3 + px * g4 + py * g5);
    return [i0 + x * i1 + y * i2, i3 + x * i4 + y * i5];
  };
}

function isNodataTest(nodata: number | undefined): (value: number) => boolean {
  if (nodata === undefined) return () => false;
  if (Number.isNaN(nodata)) return (value) => value !== value;
  return (value) => value === nodata;
}

const INTEGER_RANGES: Record<Exclude<DataType, 'float32'>, [number, number]> = {
  uint8: [0, 255],
  uint16: [0, 65535],
  int16: [-32768, 32767],
};

/** GDAL's rounding of a resampled value to an integer type: half away from zero, clamped. */
function rounderFor(dataType: DataType): (value: number) => number {
  if (dataType === 'float32') return (value) => value;
  const [min, max] = INTEGER_RANGES[dataType];
  return (value) => (value < min ? min : value > max ? max : value >= 0 ? Math.floor(value + 0.5) : Math.ceil(value - 0.5));
}

function dataTypeOfArray(data: TypedArrayOf): DataType {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int16Array) return 'int16';
  return 'float32';
}

/** Where a block's pixels lie: a warp source without its values. */
export type WarpGeometry = Omit<WarpSource, 'data' | 'nodata'>;

/**
 * Resamples a source block onto a grid. Nearest neighbour follows gdalwarp's rule (the source pixel containing the
 * output pixel centre, truncated after adding 1e-10); bilinear weights the 4 neighbours of the centre, ignoring
 * neighbours that are nodata or outside the block, as GDAL's 4-sample bilinear kernel does.
 */
export function warp(source: WarpSource, grid: Grid, options: WarpOptions = {}): TypedArrayOf {
  const dataType = dataTypeOfArray(source.data);
  const output = allocateRaster(dataType, grid.width * grid.height);
  const outputNodata = options.nodata ?? source.nodata ?? 0;
  if (outputNodata !== 0) output.fill(outputNodata);
  const maxError = options.maxError ?? DEFAULT_MAX_ERROR;
  if (options.resampling === 'bilinear') {
    const exact = gridToSourcePixels(grid, source.epsg, source.geoTransform);
    const context: KernelContext = { source, exact, isNodata: isNodataTest(source.nodata), round: rounderFor(dataType), output, width: grid.width };
    forEachMappedRow(exact, grid, maxError, (row, xs, ys) => bilinearRow(context, row, xs, ys));
  } else {
    const map = options.maps ? options.maps.get(source, grid, maxError) : nearestIndexMap(source, grid, maxError);
    copyMapped(map, source.data, source.nodata, output);
  }
  return output;
}

/**
 * Calls `visit` with the source-level pixel coordinates of every output pixel centre (NaN where untransformable),
 * row by row.
 */
function forEachMappedRow(exact: PointTransform, grid: Grid, maxError: number, visit: (row: number, xs: Float64Array, ys: Float64Array) => void): void {
  const approx = createApproxTransformer(exact, maxError);
  const xs = new Float64Array(grid.width);
  const ys = new Float64Array(grid.width);
  for (let row = 0; row < grid.height; row++) {
    for (let i = 0; i < grid.width; i++) {
      xs[i] = i + 0.5;
      ys[i] = row + 0.5;
    }
    approx(xs, ys, grid.width);
    visit(row, xs, ys);
  }
}

/**
 * For nearest resampling, the block index of the source pixel of every output pixel (-1: none). It depends on the
 * geometry only, so the bands of one resolution and the scenes of one tile (same transform, same window) share it.
 */
export function nearestIndexMap(source: WarpGeometry, grid: Grid, maxError = DEFAULT_MAX_ERROR): Int32Array {
  const exact = gridToSourcePixels(grid, source.epsg, source.geoTransform);
  const map = new Int32Array(grid.width * grid.height);
  forEachMappedRow(exact, grid, maxError, (row, xs, ys) => {
    const rowStart = row * grid.width;
    for (let i = 0; i < grid.width; i++) map[rowStart + i] = sourceIndex(source, exact, i, row, xs, ys);
  });
  return map;
}

/** output[i] = data[map[i]] wherever the map has a source pixel that is not nodata. */
function copyMapped(map: Int32Array, data: TypedArrayOf, nodata: number | undefined, output: TypedArrayOf): void {
  if (nodata === undefined) {
    for (let i = 0; i < map.length; i++) {
      const index = map[i];
      if (index >= 0) output[i] = data[index];
    }
    return;
  }
  const nanNodata = Number.isNaN(nodata);
  for (let i = 0; i < map.length; i++) {
    const index = map[i];
    if (index < 0) continue;
    const value = data[index];
    if (nanNodata ? value === value : value !== nodata) output[i] = value;
  }
}

/** Nearest index maps of one work unit, by geometry, least recently used dropped first. */
export class NearestMapCache {
  private readonly maps = new Map<string, Int32Array>();

  constructor(private readonly maxEntries = 16) {}

  get(source: WarpGeometry, grid: Grid, maxError: number): Int32Array {
    const key = JSON.stringify([grid.epsg, grid.transform, grid.width, grid.height, source.epsg, source.geoTransform, source.offsetX, source.offsetY, source.width, source.height, maxError]);
    let map = this.maps.get(key);
    if (map) this.maps.delete(key);
    else map = nearestIndexMap(source, grid, maxError);
    this.maps.set(key, map);
    if (this.maps.size > this.maxEntries) this.maps.delete(this.maps.keys().next().value!);
    return map;
  }
}

interface KernelContext {
  source: WarpSource;
  exact: PointTransform;
  isNodata: (value: number) => boolean;
  round: (value: number) => number;
  output: TypedArrayOf;
  width: number;
}

/**
 * The block index of the source pixel containing output pixel `i`'s centre, or -1 (GDAL's
 * GWKCheckAndComputeSrcOffsets): a point the approximation puts less than a pixel outside the block is
 * transformed again exactly before being rejected; a centre within 1e-10 of a pixel's right/bottom edge
 * counts as the next pixel.
 */
function sourceIndex(source: WarpGeometry, exact: PointTransform, i: number, row: number, xs: Float64Array, ys: Float64Array): number {
  const { offsetX: left, offsetY: top } = source;
  const right = left + source.width;
  const bottom = top + source.height;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt === 1) [xs[i], ys[i]] = exact(i + 0.5, row + 0.5);
    const x = xs[i];
    const y = ys[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) return -1;
    const slightlyOutside = x < left ? x > left - 1 : y < top ? y > top - 1 : x + 1e-10 > right ? x < right + 1 : y + 1e-10 > bottom ? y < bottom + 1 : undefined;
    if (slightlyOutside === undefined) break;
    if (attempt === 0 && slightlyOutside) continue;
    return -1;
  }
  const column = Math.min(Math.trunc(xs[i] + 1e-10) - left, source.width - 1);
  const line = Math.min(Math.trunc(ys[i] + 1e-10) - top, source.height - 1);
  return line * source.width + column;
}

function bilinearRow(context: KernelContext, row: number, xs: Float64Array, ys: Float64Array): void {
  const { source, isNodata, round, output, width } = context;
  const { data, width: sourceWidth, height: sourceHeight } = source;
  const rowStart = row * width;
  for (let i = 0; i < width; i++) {
    if (sourceIndex(source, context.exact, i, row, xs, ys) < 0) continue;
    const x = xs[i] - source.offsetX - 0.5;
    const y = ys[i] - source.offsetY - 0.5;
    const left = Math.floor(x);
    const top = Math.floor(y);
    const fx = x - left;
    const fy = y - top;
    let sum = 0;
    let weights = 0;
    for (let dy = 0; dy <= 1; dy++) {
      const line = top + dy;
      if (line < 0 || line >= sourceHeight) continue;
      const weightY = dy === 0 ? 1 - fy : fy;
      for (let dx = 0; dx <= 1; dx++) {
        const column = left + dx;
        if (column < 0 || column >= sourceWidth) continue;
        const weight = (dx === 0 ? 1 - fx : fx) * weightY;
        const value = data[line * sourceWidth + column];
        if (weight === 0 || isNodata(value)) continue;
        sum += value * weight;
        weights += weight;
      }
    }
    if (weights < 1e-5) continue;
    output[rowStart + i] = round(weights === 1 ? sum : sum / weights);
  }
}
