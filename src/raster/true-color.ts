/**
 * True-colour visual as xarray-spatial's `true_color`: each band min-max normalised, a sigmoid contrast
 * stretch `1 / (1 + exp(c * (th - x)))`, times 255 truncated to uint8; alpha 0 where there is no data.
 * Unlike xarray-spatial, min and max are taken over valid pixels only, a pixel is no data when any band is
 * nodata (or NaN), and no-data pixels are black.
 */

export interface TrueColorOptions {
  nodata: number;
  /** Contrast (default 10). */
  c?: number;
  /** Brightness threshold (default 0.125). */
  th?: number;
}

type Band = ArrayLike<number>;

function isNoData(value: number, nodata: number): boolean {
  return value === nodata || value !== value;
}

function validMask(red: Band, green: Band, blue: Band, nodata: number): Uint8Array {
  const valid = new Uint8Array(red.length);
  for (let i = 0; i < red.length; i++) {
    valid[i] = isNoData(red[i], nodata) || isNoData(green[i], nodata) || isNoData(blue[i], nodata) ? 0 : 1;
  }
  return valid;
}

function validRange(band: Band, valid: Uint8Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < band.length; i++) {
    if (!valid[i]) continue;
    const value = band[i];
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { min, max };
}

/** The stretched 0..255 value of one sample; 0 for a flat band (xarray-spatial leaves NaN, cast to 0). */
export function sigmoidStretch(value: number, min: number, max: number, c: number, th: number): number {
  const range = max - min;
  if (range === 0) return 0;
  const normalised = (value - min) / range;
  return Math.trunc(255 / (1 + Math.exp(c * (th - normalised))));
}

function stretchBand(band: Band, valid: Uint8Array, c: number, th: number): Uint8Array {
  const out = new Uint8Array(band.length);
  const { min, max } = validRange(band, valid);
  if (min === Infinity) return out;
  const integral = Number.isInteger(min) && Number.isInteger(max) && max - min <= 65536 && !(band instanceof Float32Array || band instanceof Float64Array);
  // Integer bands: one exp per distinct value instead of per pixel.
  const table = integral ? Uint8Array.from({ length: max - min + 1 }, (_, k) => sigmoidStretch(min + k, min, max, c, th)) : undefined;
  for (let i = 0; i < band.length; i++) {
    if (!valid[i]) continue;
    out[i] = table ? table[band[i] - min] : sigmoidStretch(band[i], min, max, c, th);
  }
  return out;
}

/** RGBA bands (band-sequential, uint8) of the true-colour visual of red, green and blue. */
export function trueColor(red: Band, green: Band, blue: Band, options: TrueColorOptions): [Uint8Array, Uint8Array, Uint8Array, Uint8Array] {
  if (green.length !== red.length || blue.length !== red.length) throw new Error('bands of different lengths');
  const c = options.c ?? 10;
  const th = options.th ?? 0.125;
  const valid = validMask(red, green, blue, options.nodata);
  const alpha = valid.map((usable) => (usable ? 255 : 0));
  return [stretchBand(red, valid, c, th), stretchBand(green, valid, c, th), stretchBand(blue, valid, c, th), alpha];
}
