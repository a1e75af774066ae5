/**
 * Per-pixel compositing of co-registered scenes. Everything here is pure and allocation-free per pixel, so a
 * caller can split an image into ranges (e.g. per tile, over SharedArrayBuffers) across worker threads.
 */

export interface MedianOptions {
  nodata: number;
  /** Per scene, 1 = usable (e.g. SCL class not masked); a missing mask means every pixel is usable. */
  valid?: (Uint8Array | undefined)[];
  /** Output array; default a Float32Array for Float32Array scenes, a Uint16Array otherwise. */
  out?: Uint16Array | Float32Array;
  /** Pixel range [start, end) to compute (default: all), so threads can share one output. */
  start?: number;
  end?: number;
}

/**
 * Per-pixel median of the valid observations (not nodata, not NaN, not masked); an even count gives the mean
 * of the two middle values (rounded half up for integer output); no valid observation gives nodata.
 */
export function medianComposite(layers: ArrayLike<number>[], options: MedianOptions): Uint16Array | Float32Array {
  if (layers.length === 0) throw new Error('median of no layers');
  const length = layers[0].length;
  if (layers.some((layer) => layer.length !== length)) throw new Error('layers of different lengths');
  const masks = layers.map((_, scene) => options.valid?.[scene]);
  if (masks.some((mask) => mask !== undefined && mask.length !== length)) throw new Error('validity mask of a different length');
  const out = options.out ?? (layers[0] instanceof Float32Array ? new Float32Array(length) : new Uint16Array(length));
  if (out.length !== length) throw new Error('output of a different length');
  medianRange(layers, masks, options.nodata, out, Math.max(0, options.start ?? 0), Math.min(length, options.end ?? length));
  return out;
}

/** Pixels gathered per block: the block's candidate values (scenes × pixels) stay in the L1 cache. */
const BLOCK = 256;

/**
 * Block by block: each scene's values are appended to its pixels' candidate lists in one sequential pass per
 * layer (branch-free: an invalid value is written but not counted), then each list is insertion-sorted.
 */
function medianRange(
  layers: ArrayLike<number>[],
  masks: (Uint8Array | undefined)[],
  nodata: number,
  out: Uint16Array | Float32Array,
  start: number,
  end: number,
): void {
  const scenes = layers.length;
  const candidates = new Float64Array(BLOCK * scenes);
  const counts = new Int32Array(BLOCK);
  const integerOutput = !(out instanceof Float32Array);
  for (let blockStart = start; blockStart < end; blockStart += BLOCK) {
    const blockEnd = Math.min(end, blockStart + BLOCK);
    counts.fill(0);
    for (let scene = 0; scene < scenes; scene++) {
      const layer = layers[scene];
      const mask = masks[scene];
      if (mask) gatherMasked(layer, mask, nodata, blockStart, blockEnd, candidates, counts, scenes);
      else gather(layer, nodata, blockStart, blockEnd, candidates, counts, scenes);
    }
    for (let pixel = blockStart; pixel < blockEnd; pixel++) {
      const slot = pixel - blockStart;
      out[pixel] = sortedMiddle(candidates, slot * scenes, counts[slot], nodata, integerOutput);
    }
  }
}

/** Appends one scene's values of pixels [start, end) to their candidate lists; counts only the usable ones. */
function gather(layer: ArrayLike<number>, nodata: number, start: number, end: number, candidates: Float64Array, counts: Int32Array, stride: number): void {
  for (let pixel = start, slot = 0, base = 0; pixel < end; pixel++, slot++, base += stride) {
    const value = layer[pixel];
    const count = counts[slot];
    candidates[base + count] = value;
    counts[slot] = count + (value !== nodata && value === value ? 1 : 0);
  }
}

/** As gather, also skipping pixels the scene's mask marks unusable. */
function gatherMasked(
  layer: ArrayLike<number>,
  mask: Uint8Array,
  nodata: number,
  start: number,
  end: number,
  candidates: Float64Array,
  counts: Int32Array,
  stride: number,
): void {
  for (let pixel = start, slot = 0, base = 0; pixel < end; pixel++, slot++, base += stride) {
    const value = layer[pixel];
    const count = counts[slot];
    candidates[base + count] = value;
    counts[slot] = count + (value !== nodata && value === value && mask[pixel] === 1 ? 1 : 0);
  }
}

/** Sorts `count` values at `base` in place and returns their median (nodata when there are none). */
function sortedMiddle(values: Float64Array, base: number, count: number, nodata: number, integerOutput: boolean): number {
  if (count === 0) return nodata;
  const end = base + count;
  for (let i = base + 1; i < end; i++) {
    const value = values[i];
    let at = i - 1;
    while (at >= base && values[at] > value) {
      values[at + 1] = values[at];
      at--;
    }
    values[at + 1] = value;
  }
  const middle = base + (count >> 1);
  if (count & 1) return values[middle];
  const mean = (values[middle - 1] + values[middle]) / 2;
  return integerOutput ? Math.floor(mean + 0.5) : mean;
}

/** 1 where the scene classification is usable: not one of `maskedClasses` and not `sclNodata` (default 0). */
export function sclValidMask(scl: Uint8Array, maskedClasses: Iterable<number>, sclNodata = 0): Uint8Array {
  const usable = new Uint8Array(256).fill(1);
  for (const sclClass of maskedClasses) usable[sclClass & 0xff] = 0;
  usable[sclNodata & 0xff] = 0;
  const mask = new Uint8Array(scl.length);
  for (let i = 0; i < scl.length; i++) mask[i] = usable[scl[i]];
  return mask;
}

/**
 * Adds `offset` (e.g. -1000, Sentinel-2's BOA_ADD_OFFSET from processing baseline 04.00) to every valid value,
 * in place, clamped to 0..65535. A valid value must never turn into nodata: a result equal to `nodata` is
 * moved one step back towards the original (with nodata 0 and offset -1000, every DN ≤ 1000 becomes 1, the
 * darkest valid reflectance).
 */
export function applyOffset(layer: Uint16Array, offset: number, nodata: number): void {
  const stepBack = offset < 0 ? 1 : -1;
  for (let i = 0; i < layer.length; i++) {
    const value = layer[i];
    if (value === nodata) continue;
    const shifted = Math.min(65535, Math.max(0, value + offset));
    layer[i] = shifted === nodata ? nodata + stepBack : shifted;
  }
}
