import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeLzw, decodeTile, decodeTileAsync, type DecodedTile, type TileLayout } from '../src/raster/codecs';
import { DecodePool } from '../src/raster/decode-pool';

/** Writes tiled GeoTIFFs with GDAL for every sample type / compression / predictor / interleave case we read. */
const MAKE_FIXTURES = String.raw`
import json, sys, numpy as np
from osgeo import gdal
gdal.UseExceptions()
out = sys.argv[1]
rng = np.random.default_rng(7)
width, height, bands, block = 300, 200, 3, 128
kinds = {'uint8': (gdal.GDT_Byte, 1, 8), 'uint16': (gdal.GDT_UInt16, 1, 16), 'int16': (gdal.GDT_Int16, 2, 16), 'float32': (gdal.GDT_Float32, 3, 32)}
def data(kind):
    y, x = np.mgrid[0:height, 0:width]
    smooth = (x * 3 + y * 2)[None, :, :] + np.arange(bands)[:, None, None] * 50
    if kind == 'uint8': return ((smooth + rng.integers(0, 4, smooth.shape)) % 256).astype(np.uint8)
    if kind == 'uint16': return ((smooth * 37 + rng.integers(0, 4000, smooth.shape)) % 65536).astype(np.uint16)
    if kind == 'int16': return (smooth * 11 - 3000 + rng.integers(-500, 500, smooth.shape)).astype(np.int16)
    return (smooth * 0.37 - 100 + rng.standard_normal(smooth.shape)).astype(np.float32)
cases = []
for kind in kinds:
    for compression, code in (('NONE', 1), ('LZW', 5), ('DEFLATE', 8)):
        predictors = [1] if compression == 'NONE' else ([1, 2, 3] if kind == 'float32' else [1, 2])
        for predictor in predictors:
            for interleave in ('PIXEL', 'BAND'):
                cases.append((kind, compression, code, predictor, interleave, 'LITTLE'))
cases += [('uint16', 'DEFLATE', 8, 2, 'PIXEL', 'BIG'), ('float32', 'LZW', 5, 3, 'PIXEL', 'BIG'), ('int16', 'NONE', 1, 1, 'PIXEL', 'BIG')]
manifest = []
for i, (kind, compression, code, predictor, interleave, endianness) in enumerate(cases):
    gdal_type, sample_format, bits = kinds[kind]
    values = data(kind)
    name = f'{out}/case{i}.tif'
    options = ['TILED=YES', f'BLOCKXSIZE={block}', f'BLOCKYSIZE={block}', f'COMPRESS={compression}', f'INTERLEAVE={interleave}', f'ENDIANNESS={endianness}']
    if predictor != 1: options.append(f'PREDICTOR={predictor}')
    ds = gdal.GetDriverByName('GTiff').Create(name, width, height, bands, gdal_type, options)
    for b in range(bands): ds.GetRasterBand(b + 1).WriteArray(values[b])
    ds = None
    ds = gdal.Open(name)
    tiles = []
    planes = bands if interleave == 'BAND' else 1
    for b in range(planes):
        band = ds.GetRasterBand(b + 1)
        for row in range((height + block - 1) // block):
            for col in range((width + block - 1) // block):
                offset = int(band.GetMetadataItem(f'BLOCK_OFFSET_{col}_{row}', 'TIFF'))
                size = int(band.GetMetadataItem(f'BLOCK_SIZE_{col}_{row}', 'TIFF'))
                tiles.append({'band': b, 'col': col, 'row': row, 'offset': offset, 'size': size})
    expected = ds.ReadAsArray().astype(values.dtype.newbyteorder('<'))
    expected.tofile(name + '.expected')
    ds = None
    manifest.append({'path': name, 'kind': kind, 'width': width, 'height': height, 'bands': bands, 'block': block,
                     'layout': {'width': block, 'height': block, 'samplesPerPixel': bands, 'bitsPerSample': bits, 'sampleFormat': sample_format,
                                'planarConfiguration': 2 if interleave == 'BAND' else 1, 'predictor': predictor, 'compression': code,
                                'littleEndian': endianness == 'LITTLE'},
                     'tiles': tiles})
print(json.dumps(manifest))
`;

interface FixtureTile {
  band: number;
  col: number;
  row: number;
  offset: number;
  size: number;
}

interface Fixture {
  path: string;
  kind: 'uint8' | 'uint16' | 'int16' | 'float32';
  width: number;
  height: number;
  bands: number;
  block: number;
  layout: TileLayout;
  tiles: FixtureTile[];
}

const ARRAY_OF_KIND = { uint8: Uint8Array, uint16: Uint16Array, int16: Int16Array, float32: Float32Array } as const;

let directory: string;
let fixtures: Fixture[];

beforeAll(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'raster-codecs-'));
  fixtures = JSON.parse(execFileSync('/usr/bin/python3', ['-c', MAKE_FIXTURES, directory], { encoding: 'utf8' })) as Fixture[];
});

afterAll(() => rmSync(directory, { recursive: true, force: true }));

function expectedValues(fixture: Fixture): DecodedTile {
  const bytes = readFileSync(`${fixture.path}.expected`);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new ARRAY_OF_KIND[fixture.kind](copy.buffer);
}

function tileBytes(file: Buffer, tile: FixtureTile): Uint8Array {
  return new Uint8Array(file.subarray(tile.offset, tile.offset + tile.size));
}

/** Counts the pixels of a decoded tile that differ from GDAL's band-sequential read of the image. */
function mismatchesInTile(fixture: Fixture, tile: FixtureTile, samples: DecodedTile, expected: DecodedTile): number {
  const { block, width, height, bands, layout } = fixture;
  const planar = layout.planarConfiguration === 2;
  const perPixel = planar ? 1 : bands;
  let mismatches = 0;
  for (let y = 0; y < block && tile.row * block + y < height; y++) {
    for (let x = 0; x < block && tile.col * block + x < width; x++) {
      const imageIndex = (tile.row * block + y) * width + tile.col * block + x;
      for (let s = 0; s < perPixel; s++) {
        const band = planar ? tile.band : s;
        if (!Object.is(samples[(y * block + x) * perPixel + s], expected[band * width * height + imageIndex])) mismatches++;
      }
    }
  }
  return mismatches;
}

function describe_(fixture: Fixture): string {
  const { layout } = fixture;
  return `${fixture.kind} compression ${layout.compression} predictor ${layout.predictor} planar ${layout.planarConfiguration} ${layout.littleEndian ? 'LE' : 'BE'}`;
}

describe('decodeTile on tiles written by GDAL', () => {
  it('covers every sample type, compression, predictor, interleave and both byte orders', () => {
    const combinations = new Set(fixtures.map(describe_));
    expect(combinations.size).toBe(fixtures.length);
    expect(fixtures.length).toBe(47);
  });

  it('decodes every tile to the values GDAL reads', () => {
    for (const fixture of fixtures) {
      const file = readFileSync(fixture.path);
      const expected = expectedValues(fixture);
      for (const tile of fixture.tiles) {
        const samples = decodeTile(tileBytes(file, tile), fixture.layout);
        expect(samples).toBeInstanceOf(ARRAY_OF_KIND[fixture.kind]);
        expect(samples.length).toBe(fixture.block * fixture.block * (fixture.layout.planarConfiguration === 2 ? 1 : fixture.bands));
        expect({ case: describe_(fixture), tile, mismatches: mismatchesInTile(fixture, tile, samples, expected) }).toEqual({
          case: describe_(fixture),
          tile,
          mismatches: 0,
        });
      }
    }
  });

  it('rejects compressions and sample types it does not implement', () => {
    const layout: TileLayout = { width: 2, height: 2, samplesPerPixel: 1, bitsPerSample: 8, sampleFormat: 1, planarConfiguration: 1, predictor: 1, compression: 7, littleEndian: true };
    expect(() => decodeTile(new Uint8Array(4), layout)).toThrow('unsupported TIFF compression 7');
    expect(() => decodeTile(new Uint8Array(8), { ...layout, compression: 1, bitsPerSample: 16, sampleFormat: 3 })).toThrow('unsupported sample type');
  });
});

describe('decodeLzw', () => {
  it('decodes the KwKwK case and the end-of-information code', () => {
    // Codes (9 bits, MSB first): CLEAR, 'a', 258 ('aa', not yet in the table), EOI.
    const codes = [256, 97, 258, 257];
    const bits = codes.map((code) => code.toString(2).padStart(9, '0')).join('').padEnd(40, '0');
    const bytes = Uint8Array.from({ length: 5 }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8), 2));
    expect(Array.from(decodeLzw(bytes, 3))).toEqual([97, 97, 97]);
  });
});

function bytesOf(samples: DecodedTile): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

describe('decodeTileAsync', () => {
  it('decodes DEFLATE tiles on the zlib thread pool, and others synchronously, to the same samples', async () => {
    for (const fixture of fixtures.filter((candidate) => candidate.layout.predictor !== 1 || candidate.layout.compression === 5)) {
      const file = readFileSync(fixture.path);
      for (const tile of fixture.tiles.slice(0, 2)) {
        const bytes = tileBytes(file, tile);
        const decoded = await decodeTileAsync(bytes, fixture.layout);
        expect(decoded.constructor).toBe(ARRAY_OF_KIND[fixture.kind]);
        expect(bytesOf(decoded).equals(bytesOf(decodeTile(bytes, fixture.layout)))).toBe(true);
      }
    }
  });
});

describe('DecodePool', () => {
  it('decodes on worker threads to the same samples as decodeTile and transfers whole buffers', async () => {
    const pool = new DecodePool(2);
    try {
      const work = fixtures.filter((fixture) => fixture.layout.compression !== 1).slice(0, 6);
      for (const fixture of work) {
        const file = readFileSync(fixture.path);
        const tiles = fixture.tiles.map((tile) => tileBytes(file, tile));
        const expected = tiles.map((bytes) => decodeTile(bytes, fixture.layout));
        const decoded = await Promise.all(tiles.map((bytes) => pool.decode(bytes, fixture.layout)));
        expect(decoded.map((samples) => samples.constructor)).toEqual(expected.map((samples) => samples.constructor));
        expect(decoded.filter((samples, i) => !bytesOf(samples).equals(bytesOf(expected[i])))).toHaveLength(0);
        expect(tiles.every((bytes) => bytes.buffer.byteLength === 0)).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });

  it('copies a view into a larger buffer instead of detaching it, and reports decoding errors', async () => {
    const pool = new DecodePool(1);
    try {
      const layout: TileLayout = { width: 2, height: 1, samplesPerPixel: 1, bitsPerSample: 16, sampleFormat: 1, planarConfiguration: 1, predictor: 2, compression: 1, littleEndian: true };
      const whole = new Uint8Array([9, 9, 5, 0, 2, 0, 9, 9]);
      const decoded = await pool.decode(whole.subarray(2, 6), layout);
      expect(Array.from(decoded)).toEqual([5, 7]);
      expect(whole.byteLength).toBe(8);
      // Node Buffers: subarray views and small pooled Buffers share memory with others.
      const wholeBuffer = Buffer.from([9, 9, 5, 0, 2, 0, 9, 9]);
      expect(Array.from(await pool.decode(wholeBuffer.subarray(2, 6), layout))).toEqual([5, 7]);
      const pooled = Buffer.from([1, 0, 1, 0]);
      expect(Array.from(await pool.decode(pooled, layout))).toEqual([1, 2]);
      expect([wholeBuffer.byteLength, pooled.byteLength]).toEqual([8, 4]);
      await expect(pool.decode(new Uint8Array([1, 2, 3]), { ...layout, compression: 8 })).rejects.toThrow();
    } finally {
      await pool.close();
    }
  });
});
