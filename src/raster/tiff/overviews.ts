/** Internal overview levels: sizes as GDAL's COG driver chooses them and 2×2 downsampling. */
import type { DataType, TypedArrayOf } from '../types';

export interface RasterLevel {
  width: number;
  height: number;
  /** One array per band, row-major. */
  bands: TypedArrayOf[];
}

export type OverviewResampling = 'average' | 'nearest';

/** Halves (rounding up) until the level fits in one tile; none when the image already does. */
export function overviewSizes(width: number, height: number, tileSize: number): { width: number; height: number }[] {
  const sizes: { width: number; height: number }[] = [];
  let level = { width, height };
  while (level.width > tileSize || level.height > tileSize) {
    level = { width: Math.ceil(level.width / 2), height: Math.ceil(level.height / 2) };
    sizes.push(level);
  }
  return sizes;
}

const ARRAY_OF: Record<DataType, new (length: number) => TypedArrayOf> = {
  uint8: Uint8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  float32: Float32Array,
};

export function newBand(dataType: DataType, length: number): TypedArrayOf {
  return new ARRAY_OF[dataType](length);
}

/** Top-left child of each 2×2 block: it exists even on odd-sized edges. */
function downsampleNearest(source: TypedArrayOf, width: number, target: TypedArrayOf, targetWidth: number, targetHeight: number): void {
  for (let y = 0; y < targetHeight; y++) {
    const sourceRow = 2 * y * width;
    const targetRow = y * targetWidth;
    for (let x = 0; x < targetWidth; x++) target[targetRow + x] = source[sourceRow + 2 * x];
  }
}

/** Mean of the valid children of one 2×2 block, clipped to the source's edges; NaN when none is valid. */
function blockMean(source: TypedArrayOf, width: number, height: number, x: number, y: number, nodata: number | undefined): number {
  let sum = 0;
  let count = 0;
  for (let row = 2 * y; row < Math.min(2 * y + 2, height); row++) {
    for (let column = 2 * x; column < Math.min(2 * x + 2, width); column++) {
      const value = source[row * width + column];
      if (value === nodata || value !== value) continue;
      sum += value;
      count++;
    }
  }
  return count === 0 ? Number.NaN : sum / count;
}

/**
 * Mean of the valid children of each 2×2 block (NaN and `nodata` are not valid); nodata where none is.
 * Integer output is rounded half up, as GDAL's average resampling does. Whole blocks take an unrolled path;
 * the last column and row of odd-sized sources go through `blockMean`.
 */
function downsampleAverage(
  source: TypedArrayOf,
  width: number,
  height: number,
  target: TypedArrayOf,
  targetWidth: number,
  targetHeight: number,
  nodata: number | undefined,
): void {
  const integer = !(target instanceof Float32Array);
  const fill = nodata ?? 0;
  const store = (index: number, mean: number): void => {
    target[index] = mean !== mean ? fill : integer ? Math.floor(mean + 0.5) : mean;
  };
  const wholeColumns = width >> 1;
  const wholeRows = height >> 1;
  for (let y = 0; y < wholeRows; y++) {
    const top = 2 * y * width;
    const bottom = top + width;
    const targetRow = y * targetWidth;
    for (let x = 0; x < wholeColumns; x++) {
      const a = source[top + 2 * x];
      const b = source[top + 2 * x + 1];
      const c = source[bottom + 2 * x];
      const d = source[bottom + 2 * x + 1];
      let sum = 0;
      let count = 0;
      if (a === a && a !== nodata) {
        sum += a;
        count++;
      }
      if (b === b && b !== nodata) {
        sum += b;
        count++;
      }
      if (c === c && c !== nodata) {
        sum += c;
        count++;
      }
      if (d === d && d !== nodata) {
        sum += d;
        count++;
      }
      target[targetRow + x] = count === 0 ? fill : integer ? Math.floor(sum / count + 0.5) : sum / count;
    }
    if (wholeColumns < targetWidth) store(targetRow + wholeColumns, blockMean(source, width, height, wholeColumns, y, nodata));
  }
  if (wholeRows < targetHeight) {
    for (let x = 0; x < targetWidth; x++) store(wholeRows * targetWidth + x, blockMean(source, width, height, x, wholeRows, nodata));
  }
}

/** The next overview level (half size) of `level`. */
export function downsampleLevel(level: RasterLevel, dataType: DataType, resampling: OverviewResampling, nodata: number | undefined): RasterLevel {
  const width = Math.ceil(level.width / 2);
  const height = Math.ceil(level.height / 2);
  const bands = level.bands.map((source) => {
    const target = newBand(dataType, width * height);
    if (resampling === 'nearest') downsampleNearest(source, level.width, target, width, height);
    else downsampleAverage(source, level.width, level.height, target, width, height, nodata);
    return target;
  });
  return { width, height, bands };
}
