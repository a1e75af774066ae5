import { applyOffset, medianComposite, sclValidMask } from '../src/raster/composite';
import { sigmoidStretch, trueColor } from '../src/raster/true-color';
import { prng } from './helpers/prng';

/** One pixel per position: the layers' values at that pixel, given column by column. */
function layersOf(pixels: number[][]): Uint16Array[] {
  const scenes = pixels[0].length;
  return Array.from({ length: scenes }, (_, scene) => Uint16Array.from(pixels.map((values) => values[scene])));
}

/** Straightforward median: filter, sort, pick. */
function referenceMedian(values: number[], nodata: number, integer: boolean): number {
  const valid = values.filter((value) => value !== nodata && !Number.isNaN(value)).sort((a, b) => a - b);
  if (valid.length === 0) return nodata;
  const middle = Math.floor(valid.length / 2);
  if (valid.length % 2 === 1) return valid[middle];
  const mean = (valid[middle - 1] + valid[middle]) / 2;
  return integer ? Math.round(mean) : Math.fround(mean);
}

describe('medianComposite', () => {
  it('takes the middle value of an odd count and the rounded mean of the two middle ones of an even count', () => {
    const layers = layersOf([
      [5, 1, 9],
      [4, 1, 8, 2],
      [0, 0, 0],
      [7, 0, 3, 0],
      [1, 2],
      [0, 100, 0, 0],
    ].map((values) => [...values, ...new Array(4 - values.length).fill(0)]));
    expect(Array.from(medianComposite(layers, { nodata: 0 }))).toEqual([5, 3, 0, 5, 2, 100]);
  });

  it('ignores masked observations and returns nodata where every scene is masked', () => {
    const layers = layersOf([
      [10, 20, 30],
      [10, 20, 30],
      [10, 20, 30],
    ]);
    const valid = [Uint8Array.from([1, 0, 0]), undefined, Uint8Array.from([0, 1, 0])];
    // Pixel 0: scenes 0, 1 usable → mean 15; pixel 1: scenes 1, 2 → 25; pixel 2: only scene 1 → 20.
    expect(Array.from(medianComposite(layers, { nodata: 0, valid }))).toEqual([15, 25, 20]);
    const allMasked = [new Uint8Array(3), new Uint8Array(3), new Uint8Array(3)];
    expect(Array.from(medianComposite(layers, { nodata: 65535, valid: allMasked }))).toEqual([65535, 65535, 65535]);
  });

  it('composites float layers into float output, skipping NaN', () => {
    const layers = [Float32Array.from([1.5, Number.NaN]), Float32Array.from([2.25, 4]), Float32Array.from([Number.NaN, -9999])];
    const out = medianComposite(layers, { nodata: -9999 });
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual([1.875, 4]);
  });

  it('matches a sort-per-pixel reference on random data with 30% nodata and masks, also computed by ranges', () => {
    const random = prng(3);
    const pixels = 20000;
    const scenes = 10;
    const layers = Array.from({ length: scenes }, () => Uint16Array.from({ length: pixels }, () => (random() < 0.3 ? 0 : 1 + Math.floor(random() * 3000))));
    const valid = layers.map((_, scene) => (scene % 3 === 0 ? Uint8Array.from({ length: pixels }, () => (random() < 0.8 ? 1 : 0)) : undefined));
    const expected = Array.from({ length: pixels }, (_, pixel) =>
      referenceMedian(layers.map((layer, scene) => (valid[scene] && !valid[scene]![pixel] ? 0 : layer[pixel])), 0, true),
    );
    expect(Array.from(medianComposite(layers, { nodata: 0, valid }))).toEqual(expected);

    const out = new Uint16Array(pixels);
    medianComposite(layers, { nodata: 0, valid, out, start: 0, end: 7000 });
    medianComposite(layers, { nodata: 0, valid, out, start: 7000, end: pixels });
    expect(Array.from(out)).toEqual(expected);
  });

  it('matches the reference for every kernel shape: 1 to 24 scenes, uint8/int16/float32 layers, masks, nodata not 0', () => {
    const random = prng(8);
    const pixels = 3000;
    const shapes = [
      { make: (n: number) => new Uint8Array(n), max: 255, nodata: 255 },
      { make: (n: number) => new Int16Array(n), max: 2000, nodata: -1 },
      { make: (n: number) => new Float32Array(n), max: 1, nodata: -9999 },
    ];
    for (const scenes of [1, 2, 3, 7, 16, 24]) {
      for (const { make, max, nodata } of shapes) {
        const layers = Array.from({ length: scenes }, () => {
          const layer = make(pixels);
          for (let i = 0; i < pixels; i++) layer[i] = random() < 0.25 ? nodata : layer instanceof Float32Array ? Math.fround(random() * max) : Math.floor(random() * max) - (nodata < 0 ? 500 : 0);
          return layer;
        });
        const valid = layers.map((_, scene) => (scene % 2 === 1 ? Uint8Array.from({ length: pixels }, () => (random() < 0.7 ? 1 : 0)) : undefined));
        const float = layers[0] instanceof Float32Array;
        const expected = Array.from({ length: pixels }, (_, pixel) =>
          referenceMedian(layers.map((layer, scene) => (valid[scene] && !valid[scene]![pixel] ? nodata : layer[pixel])), nodata, !float),
        );
        const out = float ? new Float32Array(pixels) : new Uint16Array(pixels);
        medianComposite(layers, { nodata, valid, out });
        const written = float ? expected : expected.map((value) => value & 0xffff);
        expect({ scenes, type: layers[0].constructor.name, out: Array.from(out) }).toEqual({ scenes, type: layers[0].constructor.name, out: written });
      }
    }
  });

  it('writes float layers into integer output as the typed array stores them, rounding only the even-count mean', () => {
    const layers = [Float32Array.from([3.75, 1, 2]), Float32Array.from([0, 2, 3]), Float32Array.from([0, 4, 0])];
    // Pixel 0: one value, 3.75 → stored as 3; pixel 1: 1, 2, 4 → 2; pixel 2: 2 and 3 → 2.5 → 3.
    expect(Array.from(medianComposite(layers, { nodata: 0, out: new Uint16Array(3) }))).toEqual([3, 2, 3]);
  });

  it('rejects layers, masks or output of different lengths', () => {
    expect(() => medianComposite([new Uint16Array(3), new Uint16Array(4)], { nodata: 0 })).toThrow('layers of different lengths');
    expect(() => medianComposite([new Uint16Array(3)], { nodata: 0, valid: [new Uint8Array(2)] })).toThrow('validity mask');
    expect(() => medianComposite([new Uint16Array(3)], { nodata: 0, out: new Uint16Array(2) })).toThrow('output of a different length');
    expect(() => medianComposite([], { nodata: 0 })).toThrow('median of no layers');
  });
});

describe('sclValidMask', () => {
  it('masks the given scene classes and the SCL nodata class', () => {
    const scl = Uint8Array.from([0, 1, 3, 4, 5, 8, 9, 10, 11]);
    expect(Array.from(sclValidMask(scl, [3, 8, 9, 10]))).toEqual([0, 1, 0, 1, 1, 0, 0, 0, 1]);
    expect(Array.from(sclValidMask(scl, new Set([1]), 255))).toEqual([1, 0, 1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('applyOffset', () => {
  it('shifts valid values, keeps nodata, and never turns valid data into nodata', () => {
    const layer = Uint16Array.from([0, 500, 1000, 1001, 2500, 65535]);
    applyOffset(layer, -1000, 0);
    expect(Array.from(layer)).toEqual([0, 1, 1, 1, 1500, 64535]);
    const upward = Uint16Array.from([65535, 65000, 100]);
    applyOffset(upward, 1000, 65535);
    expect(Array.from(upward)).toEqual([65535, 65534, 1100]);
  });
});

describe('trueColor', () => {
  /** The formula written out per pixel. */
  function referenceTrueColor(bands: number[][], nodata: number): number[][] {
    const pixels = bands[0].length;
    const valid = Array.from({ length: pixels }, (_, i) => bands.every((band) => band[i] !== nodata && !Number.isNaN(band[i])));
    const stretched = bands.map((band) => {
      const values = band.filter((_, i) => valid[i]);
      const min = Math.min(...values);
      const max = Math.max(...values);
      return band.map((value, i) => (valid[i] ? Math.floor(255 / (1 + Math.exp(10 * (0.125 - (value - min) / (max - min))))) : 0));
    });
    return [...stretched, valid.map((usable) => (usable ? 255 : 0))];
  }

  it('matches the formula on random integer and float data, with alpha 0 wherever any band is nodata', () => {
    const random = prng(11);
    const size = 5000;
    const integerBands = [0, 1, 2].map(() => Uint16Array.from({ length: size }, () => (random() < 0.1 ? 0 : 200 + Math.floor(random() * 4000))));
    const rgba = trueColor(integerBands[0], integerBands[1], integerBands[2], { nodata: 0 });
    expect(rgba.map((band) => Array.from(band))).toEqual(referenceTrueColor(integerBands.map((band) => Array.from(band)), 0));

    const floatBands = [0, 1, 2].map(() => Float32Array.from({ length: size }, () => (random() < 0.05 ? Number.NaN : random() * 0.4)));
    const floatRgba = trueColor(floatBands[0], floatBands[1], floatBands[2], { nodata: -1 });
    expect(floatRgba.map((band) => Array.from(band))).toEqual(referenceTrueColor(floatBands.map((band) => Array.from(band)), -1));
  });

  it('maps the band minimum to 56 and the maximum to 254 with the default contrast', () => {
    expect(sigmoidStretch(100, 100, 200, 10, 0.125)).toBe(56);
    expect(sigmoidStretch(200, 100, 200, 10, 0.125)).toBe(254);
    const [red, , , alpha] = trueColor(Uint16Array.from([0, 100, 200]), Uint16Array.from([5, 5, 6]), Uint16Array.from([1, 2, 3]), { nodata: 0 });
    expect(Array.from(red)).toEqual([0, 56, 254]);
    expect(Array.from(alpha)).toEqual([0, 255, 255]);
  });

  it('gives black for a flat band and an all-nodata image', () => {
    const flat = trueColor(Uint16Array.from([7, 7]), Uint16Array.from([1, 2]), Uint16Array.from([1, 2]), { nodata: 0 });
    expect(Array.from(flat[0])).toEqual([0, 0]);
    const empty = trueColor(new Uint16Array(2), new Uint16Array(2), new Uint16Array(2), { nodata: 0 });
    expect(empty.map((band) => Array.from(band))).toEqual([[0, 0], [0, 0], [0, 0], [0, 0]]);
  });
});
