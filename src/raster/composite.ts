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
  const kernel = medianKernel(layers, masks, !(out instanceof Float32Array));
  kernel(layers, masks, options.nodata, out, Math.max(0, options.start ?? 0), Math.min(length, options.end ?? length));
  return out;
}

type MedianKernel = (
  layers: ArrayLike<number>[],
  masks: (Uint8Array | undefined)[],
  nodata: number,
  out: Uint16Array | Float32Array,
  start: number,
  end: number,
) => void;

const kernels = new Map<string, MedianKernel>();
/** Kernels kept; a process meets few shapes (scene counts of its tiles), the oldest goes first beyond this. */
const MAX_KERNELS = 64;

/**
 * The median loop is generated once per shape (scene count, which scenes have masks, element type): with one
 * local per layer and the scene loop unrolled, it runs about 40 % faster than a loop over an array of layers,
 * which V8 cannot keep in registers. Only numbers go into the source, never data.
 */
function medianKernel(layers: ArrayLike<number>[], masks: (Uint8Array | undefined)[], integerOutput: boolean): MedianKernel {
  const integerLayers = layers.every((layer) => layer instanceof Uint8Array || layer instanceof Uint16Array || layer instanceof Int16Array);
  const key = `${integerOutput ? 'int' : 'float'} ${layers.map((layer, i) => `${layer.constructor.name}${masks[i] ? '+mask' : ''}`).join(',')}`;
  let kernel = kernels.get(key);
  if (!kernel) {
    kernel = compileMedianKernel(layers.length, masks.map(Boolean), integerOutput, integerLayers);
    if (kernels.size >= MAX_KERNELS) kernels.delete(kernels.keys().next().value!);
    kernels.set(key, kernel);
  }
  return kernel;
}

/**
 * Per pixel, each usable value is insertion-sorted into `sorted` as it is read (sorted[0] is a sentinel below any
 * value), then the middle one or the mean of the middle two is written.
 */
function compileMedianKernel(scenes: number, masked: boolean[], integerOutput: boolean, integerLayers: boolean): MedianKernel {
  const lines = [
    integerLayers ? `const sorted = new Int32Array(${scenes + 2}); sorted[0] = -2147483648;` : `const sorted = new Float64Array(${scenes + 2}); sorted[0] = -Infinity;`,
  ];
  for (let s = 0; s < scenes; s++) lines.push(`const l${s} = layers[${s}];${masked[s] ? ` const m${s} = masks[${s}];` : ''}`);
  lines.push('for (let p = start; p < end; p++) {', '  let n = 0, v = 0, at = 0;');
  for (let s = 0; s < scenes; s++) {
    const usable = ['v !== nodata', ...(integerLayers ? [] : ['v === v']), ...(masked[s] ? [`m${s}[p] === 1`] : [])].join(' && ');
    lines.push(`  v = l${s}[p]; if (${usable}) { at = n; while (sorted[at] > v) { sorted[at + 1] = sorted[at]; at--; } sorted[at + 1] = v; n++; }`);
  }
  const lower = 'sorted[1 + ((n - 1) >> 1)]';
  const upper = 'sorted[1 + (n >> 1)]';
  // Integer layers: (a + b + 1) >> 1 is a for an odd count (lower = upper) and the mean rounded half up otherwise.
  const evenMean = integerOutput ? `Math.floor((${lower} + ${upper}) / 2 + 0.5)` : `(${lower} + ${upper}) / 2`;
  const middle = integerLayers && integerOutput ? `(${lower} + ${upper} + 1) >> 1` : `n & 1 ? ${upper} : ${evenMean}`;
  lines.push(`  out[p] = n === 0 ? nodata : ${middle};`, '}');
  return new Function('layers', 'masks', 'nodata', 'out', 'start', 'end', lines.join('\n')) as MedianKernel;
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
