/** Cuts pixel-interleaved tiles out of band-sequential levels and applies the TIFF predictor. */
import { applyFloatingPointPredictor, applyHorizontalDifferencing } from '../codecs/predictor';
import type { DataType } from '../types';
import { newBand, type RasterLevel } from './overviews';

export interface TileGrid {
  across: number;
  down: number;
}

export function tileGridOf(level: { width: number; height: number }, tileSize: number): TileGrid {
  return { across: Math.ceil(level.width / tileSize), down: Math.ceil(level.height / tileSize) };
}

/** The TIFF predictor the writer uses: horizontal differencing for integers, floating point for float32. */
export function predictorFor(dataType: DataType): 2 | 3 {
  return dataType === 'float32' ? 3 : 2;
}

/**
 * The predicted bytes of tile (column, row): a full tileSize² tile, pixel-interleaved, edge tiles padded with
 * `fill`. The result is a fresh array (it goes to an asynchronous compressor).
 */
export function predictedTile(level: RasterLevel, dataType: DataType, tileSize: number, column: number, row: number, fill: number): Uint8Array {
  const samplesPerPixel = level.bands.length;
  const tile = newBand(dataType, tileSize * tileSize * samplesPerPixel);
  const left = column * tileSize;
  const top = row * tileSize;
  const validWidth = Math.min(tileSize, level.width - left);
  const validHeight = Math.min(tileSize, level.height - top);
  if (fill !== 0 && (validWidth < tileSize || validHeight < tileSize)) tile.fill(fill);

  for (let band = 0; band < samplesPerPixel; band++) {
    const source = level.bands[band];
    for (let y = 0; y < validHeight; y++) {
      const sourceStart = (top + y) * level.width + left;
      if (samplesPerPixel === 1) {
        tile.set(source.subarray(sourceStart, sourceStart + validWidth), y * tileSize);
        continue;
      }
      let target = y * tileSize * samplesPerPixel + band;
      for (let x = 0; x < validWidth; x++, target += samplesPerPixel) tile[target] = source[sourceStart + x];
    }
  }

  const rowLength = tileSize * samplesPerPixel;
  const bytes = new Uint8Array(tile.buffer, tile.byteOffset, tile.byteLength);
  if (tile instanceof Float32Array) return applyFloatingPointPredictor(bytes, rowLength, samplesPerPixel, 4);
  applyHorizontalDifferencing(tile, rowLength, samplesPerPixel);
  return bytes;
}
