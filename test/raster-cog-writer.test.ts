import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeCog, needsBigTiff, writeCog, type CogInput } from '../src/raster/cog-writer';
import type { DataType, GeoTransform, TypedArrayOf } from '../src/raster/types';
import { prng } from './helpers/prng';

/** Dumps what GDAL reads of a file: every level's pixels (band-sequential raw files) and band properties. */
const READ_WITH_GDAL = String.raw`
import json, sys
from osgeo import gdal
gdal.UseExceptions()
path = sys.argv[1]
ds = gdal.Open(path)
band = ds.GetRasterBand(1)
ds.ReadAsArray().tofile(path + '.level0')
for i in range(band.GetOverviewCount()):
    ovr = [ds.GetRasterBand(b + 1).GetOverview(i) for b in range(ds.RasterCount)]
    import numpy as np
    np.stack([o.ReadAsArray() for o in ovr]).tofile(path + '.level' + str(i + 1))
print(json.dumps({
    'colorInterpretations': [gdal.GetColorInterpretationName(ds.GetRasterBand(b + 1).GetColorInterpretation()) for b in range(ds.RasterCount)],
    'maskFlags': band.GetMaskFlags(),
    'blockSize': band.GetBlockSize(),
}))
`;

interface GdalJsonBand {
  type: string;
  description?: string;
  noDataValue?: number | string;
  overviews?: { size: [number, number] }[];
  block: [number, number];
}

interface GdalJson {
  size: [number, number];
  geoTransform: GeoTransform;
  stac: { 'proj:epsg': number };
  bands: GdalJsonBand[];
  metadata: { IMAGE_STRUCTURE: Record<string, string> };
}

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'raster-cog-writer-'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function validate(file: string): string {
  const args = ['-m', 'osgeo_utils.samples.validate_cloud_optimized_geotiff', '--full-check=yes', file];
  return execFileSync('/usr/bin/python3', args, { encoding: 'utf8' });
}

function gdalinfo(file: string): GdalJson {
  return JSON.parse(execFileSync('gdalinfo', ['-json', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as GdalJson;
}

function readWithGdal(file: string): { colorInterpretations: string[]; maskFlags: number; blockSize: [number, number] } {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', READ_WITH_GDAL, file], { encoding: 'utf8' }));
}

const ARRAY_OF: Record<DataType, { new (buffer: ArrayBuffer): TypedArrayOf }> = { uint8: Uint8Array, uint16: Uint16Array, int16: Int16Array, float32: Float32Array };

/** The band-sequential values GDAL read at a level (0 = full resolution), one array per band. */
function levelRead(file: string, level: number, dataType: DataType, bands: number): TypedArrayOf[] {
  const bytes = readFileSync(`${file}.level${level}`);
  const all = new ARRAY_OF[dataType](bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const perBand = all.length / bands;
  return Array.from({ length: bands }, (_, band) => all.subarray(band * perBand, (band + 1) * perBand));
}

/** geotiff.js is an ES module jest cannot load here, so a child Node process reads the file with it. */
const READ_WITH_GEOTIFF_JS = `
import { fromFile } from 'geotiff';
const [file, window, sample] = [process.argv[1], JSON.parse(process.argv[2]), Number(process.argv[3])];
const tiff = await fromFile(file);
const images = await tiff.getImageCount();
const image = await tiff.getImage(0);
const [values] = await image.readRasters({ window, samples: [sample] });
const smallest = await tiff.getImage(images - 1);
console.log(JSON.stringify({ images, geoKeys: image.getGeoKeys(), origin: image.getOrigin(), resolution: image.getResolution(),
  nodata: image.getGDALNoData(), window: Array.from(values), smallestOverview: [smallest.getWidth(), smallest.getHeight()] }));
`;

interface GeotiffJsRead {
  images: number;
  geoKeys: Record<string, number>;
  origin: number[];
  resolution: number[];
  nodata: number | null;
  window: number[];
  smallestOverview: [number, number];
}

function readWithGeotiffJs(file: string, window: number[], sample: number): GeotiffJsRead {
  const args = ['--input-type=module', '-e', READ_WITH_GEOTIFF_JS, file, JSON.stringify(window), String(sample)];
  const output = execFileSync(process.execPath, args, { cwd: path.resolve(__dirname, '..'), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(output) as GeotiffJsRead;
}

function smoothBand<T extends TypedArrayOf>(array: T, width: number, value: (x: number, y: number) => number): T {
  for (let i = 0; i < array.length; i++) array[i] = value(i % width, Math.floor(i / width));
  return array;
}

/** Number of positions where two equally long sequences differ (-1 for different lengths). */
function differences(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return -1;
  let count = 0;
  for (let i = 0; i < actual.length; i++) if (!Object.is(actual[i], expected[i])) count++;
  return count;
}

/** Straightforward 2×2 mean ignoring nodata, rounded half up: what an overview must hold. */
function referenceAverage(band: ArrayLike<number>, width: number, height: number, nodata: number): number[] {
  const outWidth = Math.ceil(width / 2);
  const outHeight = Math.ceil(height / 2);
  const out: number[] = [];
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const children: number[] = [];
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        if (2 * x + dx < width && 2 * y + dy < height) children.push(band[(2 * y + dy) * width + 2 * x + dx]);
      }
      const valid = children.filter((value) => value !== nodata);
      out.push(valid.length === 0 ? nodata : Math.floor(valid.reduce((a, b) => a + b, 0) / valid.length + 0.5));
    }
  }
  return out;
}

describe('writeCog read back by GDAL', () => {
  const width = 1200;
  const height = 900;
  const random = prng(42);
  const reflectance = [0, 1, 2].map((band) =>
    smoothBand(new Uint16Array(width * height), width, (x, y) => (random() < 0.05 ? 0 : 1000 + x * 3 + y * 2 + band * 500 + Math.floor(random() * 50))),
  );
  // A whole 2×2 block of nodata, which must stay nodata in the overview.
  for (const [x, y] of [[10, 10], [11, 10], [10, 11], [11, 11]]) reflectance[0][y * width + x] = 0;
  const input: CogInput = {
    grid: { epsg: 32633, transform: [500000, 10, 0, 5000000, 0, -10], width, height },
    dataType: 'uint16',
    bands: reflectance,
    nodata: 0,
    bandDescriptions: ['red', 'green & <nir>', 'swir'],
  };
  let file: string;
  let written: { bytes: number };

  beforeAll(async () => {
    file = path.join(directory, 'reflectance.tif');
    written = await writeCog(file, input);
  });

  it('is a valid COG according to GDAL, including block leaders and trailers', () => {
    expect(validate(file)).toContain('is a valid cloud optimized GeoTIFF');
    expect(readFileSync(file).length).toBe(written.bytes);
    expect(readFileSync(file).readUInt16LE(2)).toBe(42);
    expect(readdirSync(directory).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('has the CRS, exact geotransform, nodata, band types, overviews and descriptions', () => {
    const info = gdalinfo(file);
    expect(info.size).toEqual([width, height]);
    expect(info.stac['proj:epsg']).toBe(32633);
    expect(info.geoTransform).toEqual([500000, 10, 0, 5000000, 0, -10]);
    expect(info.metadata.IMAGE_STRUCTURE).toMatchObject({ COMPRESSION: 'DEFLATE', INTERLEAVE: 'PIXEL', LAYOUT: 'COG', PREDICTOR: '2' });
    expect(info.bands.map((band) => band.type)).toEqual(['UInt16', 'UInt16', 'UInt16']);
    expect(info.bands.map((band) => band.noDataValue)).toEqual([0, 0, 0]);
    expect(info.bands.map((band) => band.description)).toEqual(['red', 'green & <nir>', 'swir']);
    expect(info.bands[0].block).toEqual([512, 512]);
    expect(info.bands[0].overviews?.map((overview) => overview.size)).toEqual([
      [600, 450],
      [300, 225],
    ]);
  });

  it('holds identical full-resolution pixels and overviews averaged without nodata', () => {
    readWithGdal(file);
    const full = levelRead(file, 0, 'uint16', 3);
    full.forEach((band, index) => expect(Buffer.from(band.buffer, band.byteOffset, band.byteLength).equals(Buffer.from(reflectance[index].buffer))).toBe(true));
    const firstOverview = levelRead(file, 1, 'uint16', 3);
    for (let band = 0; band < 3; band++) expect(differences(firstOverview[band], referenceAverage(reflectance[band], width, height, 0))).toBe(0);
    expect(firstOverview[0][5 * 600 + 5]).toBe(0);
    const secondOverview = levelRead(file, 2, 'uint16', 3);
    expect(differences(secondOverview[1], referenceAverage(firstOverview[1], 600, 450, 0))).toBe(0);
  });

  it('is read by geotiff.js too: georeferencing, nodata, pixels and overviews', () => {
    const read = readWithGeotiffJs(file, [1000, 800, 1200, 900], 2);
    expect(read.images).toBe(3);
    expect(read.geoKeys).toMatchObject({ GTModelTypeGeoKey: 1, GTRasterTypeGeoKey: 1, ProjectedCSTypeGeoKey: 32633 });
    expect([read.origin, read.resolution, read.nodata]).toEqual([[500000, 5000000, 0], [10, -10, 0], 0]);
    const expected = Array.from({ length: 200 * 100 }, (_, i) => reflectance[2][(800 + Math.floor(i / 200)) * width + 1000 + (i % 200)]);
    expect(differences(read.window, expected)).toBe(0);
    expect(read.smallestOverview).toEqual([300, 225]);
  });

  it('encodes the same bytes in memory as on disk', () => {
    expect(Buffer.concat(encodeCog(input)).equals(readFileSync(file))).toBe(true);
  });
});

describe('writeCog variants', () => {
  it('writes float32 with the floating-point predictor, a geographic CRS and a rotated transform', async () => {
    const width = 333;
    const height = 257;
    const values = smoothBand(new Float32Array(width * height), width, (x, y) => Math.sin(x / 17) * 1000 + y / 7);
    values[0] = -9999;
    values[1] = Number.NaN;
    const transform: GeoTransform = [10.5, 0.001, 0.0002, 45.25, 0.0001, -0.001];
    const file = path.join(directory, 'rotated.tif');
    await writeCog(file, { grid: { epsg: 4326, transform, width, height }, dataType: 'float32', bands: [values], nodata: -9999 }, { tileSize: 128 });
    expect(validate(file)).toContain('is a valid cloud optimized GeoTIFF');
    const info = gdalinfo(file);
    expect(info.stac['proj:epsg']).toBe(4326);
    expect(info.geoTransform).toEqual(transform);
    expect(info.bands[0]).toMatchObject({ type: 'Float32', noDataValue: -9999, block: [128, 128] });
    expect(info.metadata.IMAGE_STRUCTURE.PREDICTOR).toBe('3');
    expect(info.bands[0].overviews?.map((overview) => overview.size)).toEqual([
      [167, 129],
      [84, 65],
    ]);
    readWithGdal(file);
    const [read] = levelRead(file, 0, 'float32', 1);
    expect(Buffer.from(read.buffer, read.byteOffset, read.byteLength).equals(Buffer.from(values.buffer))).toBe(true);
    const [overview] = levelRead(file, 1, 'float32', 1);
    // Top-left block: -9999 and NaN are ignored, the mean of the two valid children remains.
    expect(overview[0]).toBeCloseTo((values[width] + values[width + 1]) / 2, 3);
  });

  it('writes BigTIFF when forced, which GDAL reads and validates', async () => {
    const width = 700;
    const height = 300;
    const values = smoothBand(new Int16Array(width * height), width, (x, y) => x - y * 3);
    const file = path.join(directory, 'big.tif');
    await writeCog(file, { grid: { epsg: 3857, transform: [0, 20, 0, 0, 0, -20], width, height }, dataType: 'int16', bands: [values], nodata: -32768 }, { bigTiff: true });
    expect(readFileSync(file).readUInt16LE(2)).toBe(43);
    expect(validate(file)).toContain('is a valid cloud optimized GeoTIFF');
    const info = gdalinfo(file);
    expect(info.stac['proj:epsg']).toBe(3857);
    expect(info.bands[0]).toMatchObject({ type: 'Int16', noDataValue: -32768 });
    expect(info.bands[0].overviews?.map((overview) => overview.size)).toEqual([[350, 150]]);
    readWithGdal(file);
    expect(differences(levelRead(file, 0, 'int16', 1)[0], values)).toBe(0);
    expect(differences(levelRead(file, 1, 'int16', 1)[0], referenceAverage(values, width, height, -32768))).toBe(0);
  });

  it('writes an RGBA visual with unassociated alpha and nearest overviews', async () => {
    const width = 600;
    const height = 520;
    const rgba = [0, 1, 2, 3].map((band) => smoothBand(new Uint8Array(width * height), width, (x, y) => (band === 3 ? (x < 100 ? 0 : 255) : (x + y * band) % 256)));
    const file = path.join(directory, 'visual.tif');
    await writeCog(file, {
      grid: { epsg: 32632, transform: [300000, 10, 0, 5100000, 0, -10], width, height },
      dataType: 'uint8',
      bands: rgba,
      photometric: 'rgb',
      extraSampleAlpha: true,
      overviewResampling: 'nearest',
    });
    expect(validate(file)).toContain('is a valid cloud optimized GeoTIFF');
    const read = readWithGdal(file);
    expect(read.colorInterpretations).toEqual(['Red', 'Green', 'Blue', 'Alpha']);
    const GMF_PER_DATASET = 2;
    const GMF_ALPHA = 4;
    expect(read.maskFlags).toBe(GMF_PER_DATASET | GMF_ALPHA);
    expect(gdalinfo(file).bands.map((band) => band.noDataValue)).toEqual([undefined, undefined, undefined, undefined]);
    const full = levelRead(file, 0, 'uint8', 4);
    full.forEach((band, index) => expect(Buffer.from(band).equals(Buffer.from(rgba[index]))).toBe(true));
    const overview = levelRead(file, 1, 'uint8', 4);
    const nearest = (band: Uint8Array): number[] => Array.from({ length: 300 * 260 }, (_, i) => band[2 * Math.floor(i / 300) * width + 2 * (i % 300)]);
    overview.forEach((band, index) => expect(differences(band, nearest(rgba[index]))).toBe(0));
  });

  it('writes a single tile without overviews when the image fits in one', async () => {
    const values = smoothBand(new Uint8Array(100 * 70), 100, (x, y) => (x * y) % 251);
    const file = path.join(directory, 'small.tif');
    await writeCog(file, { grid: { epsg: 32631, transform: [0, 60, 0, 6000000, 0, -60], width: 100, height: 70 }, dataType: 'uint8', bands: [values] }, { deflateLevel: 1 });
    expect(validate(file)).toContain('is a valid cloud optimized GeoTIFF');
    const info = gdalinfo(file);
    expect(info.bands[0].overviews ?? []).toEqual([]);
    expect(info.bands[0].noDataValue).toBeUndefined();
    readWithGdal(file);
    expect(Buffer.from(levelRead(file, 0, 'uint8', 1)[0]).equals(Buffer.from(values))).toBe(true);
  });

  it('switches to BigTIFF automatically only when the file could pass 4 GiB', () => {
    expect(needsBigTiff({ width: 10980, height: 10980, bands: 4, dataType: 'uint16' })).toBe(false);
    expect(needsBigTiff({ width: 20000, height: 20000, bands: 2, dataType: 'uint16' })).toBe(false);
    expect(needsBigTiff({ width: 30000, height: 30000, bands: 2, dataType: 'uint16' })).toBe(true);
    expect(needsBigTiff({ width: 40000, height: 40000, bands: 2, dataType: 'uint16' })).toBe(true);
    expect(needsBigTiff({ width: 33000, height: 33000, bands: 1, dataType: 'float32' })).toBe(true);
  });

  it('rejects inconsistent input', async () => {
    const grid = { epsg: 32631, transform: [0, 10, 0, 0, 0, -10] as GeoTransform, width: 10, height: 10 };
    expect(() => encodeCog({ grid, dataType: 'uint16', bands: [new Uint16Array(99)] })).toThrow('band of 99 values for a 10×10 grid');
    expect(() => encodeCog({ grid, dataType: 'uint16', bands: [new Uint8Array(100)] })).toThrow('band array is not of data type uint16');
    expect(() => encodeCog({ grid, dataType: 'uint8', bands: [new Uint8Array(100)], photometric: 'rgb' })).toThrow('RGB photometric needs at least 3 bands');
    expect(() => encodeCog({ grid, dataType: 'uint8', bands: [new Uint8Array(100)], nodata: -1 })).toThrow('nodata -1 is not a uint8 value');
    expect(() => encodeCog({ grid, dataType: 'uint8', bands: [new Uint8Array(100)] }, { tileSize: 100 })).toThrow('tile size 100');
    await expect(writeCog(path.join(directory, 'missing-dir', 'x.tif'), { grid, dataType: 'uint8', bands: [new Uint8Array(100)] })).rejects.toThrow('ENOENT');
  });

  it('stops on an aborted signal, before or while writing, and leaves no file behind', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'cog-abort-'));
    const grid = { epsg: 32631, transform: [0, 10, 0, 0, 0, -10] as GeoTransform, width: 2048, height: 2048 };
    const input: CogInput = { grid, dataType: 'uint16', bands: [Uint16Array.from({ length: 2048 * 2048 }, (_, i) => i % 5000)] };
    try {
      const before = new AbortController();
      before.abort(new Error('dismissed before'));
      await expect(writeCog(path.join(folder, 'a.tif'), input, { signal: before.signal })).rejects.toThrow('dismissed before');
      const during = new AbortController();
      const writing = writeCog(path.join(folder, 'b.tif'), input, { signal: during.signal, concurrency: 1 });
      setImmediate(() => during.abort(new Error('dismissed during')));
      await expect(writing).rejects.toThrow('dismissed during');
      expect(readdirSync(folder)).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
