import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeSharedDecodePool, forgetOpenCogs, openCog, readInfo, syncDecoder } from '../src/raster/cog-reader';
import { HttpStatusError, planMergedRanges, RangeClient } from '../src/raster/http-client';
import { chooseOverviewLevel, readToGrid } from '../src/raster/read-to-grid';
import { TileCache } from '../src/raster/tile-cache';
import type { DataType, Grid } from '../src/raster/types';
import { countDifferences, gdalWarpToGrid, runPython, typedFromBytes } from './helpers/gdal';
import { RangeServer } from './helpers/range-server';

/** Writes the test COGs with GDAL and dumps what GDAL reads from each level as raw little-endian samples. */
const MAKE_COGS = `
import sys, json
import numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
out = sys.argv[1]
rng = np.random.default_rng(7)

def field(h, w, low, high):
    y, x = np.mgrid[0:h, 0:w]
    smooth = (np.sin(x / 37.0) * np.cos(y / 23.0) + 1) / 2
    return low + (high - low) * np.clip(smooth * 0.9 + rng.random((h, w)) * 0.1, 0, 1)

def write(name, arrays, gdt, options, nodata=None):
    h, w = arrays[0].shape
    mem = gdal.GetDriverByName('MEM').Create('', w, h, len(arrays), gdt)
    mem.SetGeoTransform((500000, 10, 0, 5300000, 0, -10))
    srs = osr.SpatialReference(); srs.ImportFromEPSG(32610)
    mem.SetProjection(srs.ExportToWkt())
    for i, a in enumerate(arrays):
        band = mem.GetRasterBand(i + 1)
        band.WriteArray(a)
        if nodata is not None: band.SetNoDataValue(nodata)
    gdal.Translate(out + '/' + name + '.tif', mem, format='COG', creationOptions=['BLOCKSIZE=256'] + options)

u16 = field(500, 700, 1, 60000).astype(np.uint16)
write('u8_deflate', [field(500, 700, 1, 255).astype(np.uint8)], gdal.GDT_Byte, ['COMPRESS=DEFLATE', 'PREDICTOR=YES', 'OVERVIEWS=NONE'])
write('u16_none', [u16], gdal.GDT_UInt16, ['COMPRESS=NONE', 'OVERVIEWS=NONE'])
write('u16_lzw', [u16], gdal.GDT_UInt16, ['COMPRESS=LZW', 'OVERVIEWS=NONE'])
write('u16_deflate_ovr', [field(2048, 2048, 1, 60000).astype(np.uint16)], gdal.GDT_UInt16, ['COMPRESS=DEFLATE', 'PREDICTOR=YES'])
write('u16_bigtiff', [u16], gdal.GDT_UInt16, ['COMPRESS=DEFLATE', 'PREDICTOR=YES', 'BIGTIFF=YES'])
i16 = field(500, 700, -3000, 3000).astype(np.int16); i16[100:140, 200:260] = -9999
write('i16_lzw', [i16], gdal.GDT_Int16, ['COMPRESS=LZW', 'PREDICTOR=YES'], nodata=-9999)
f32 = field(500, 700, -50, 50).astype(np.float32); f32[0:30, 0:40] = np.nan
write('f32_deflate', [f32], gdal.GDT_Float32, ['COMPRESS=DEFLATE', 'PREDICTOR=YES', 'OVERVIEWS=NONE'], nodata=float('nan'))
write('rgb_deflate', [field(500, 700, 1, 255).astype(np.uint8) for _ in range(3)], gdal.GDT_Byte, ['COMPRESS=DEFLATE', 'OVERVIEWS=NONE'])

meta = {}
for name in ['u8_deflate', 'u16_none', 'u16_lzw', 'u16_deflate_ovr', 'u16_bigtiff', 'i16_lzw', 'f32_deflate', 'rgb_deflate']:
    ds = gdal.Open(out + '/' + name + '.tif')
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    band = ds.GetRasterBand(1)
    levels = [band] + [band.GetOverview(i) for i in range(band.GetOverviewCount())]
    for b in range(ds.RasterCount):
        bb = ds.GetRasterBand(b + 1)
        for l, lv in enumerate([bb] + [bb.GetOverview(i) for i in range(bb.GetOverviewCount())]):
            open('%s/%s.b%d.l%d.raw' % (out, name, b, l), 'wb').write(lv.ReadAsArray().astype(lv.ReadAsArray().dtype.newbyteorder('<')).tobytes())
    nodata = band.GetNoDataValue()
    meta[name] = dict(width=ds.RasterXSize, height=ds.RasterYSize, bands=ds.RasterCount, geoTransform=list(ds.GetGeoTransform()),
        epsg=int(srs.GetAuthorityCode(None)), nodata=None if nodata is None else ('nan' if nodata != nodata else nodata),
        levels=[[lv.XSize, lv.YSize] for lv in levels], dataType=gdal.GetDataTypeName(band.DataType))
print(json.dumps(meta))
`;

interface GdalMeta {
  width: number;
  height: number;
  bands: number;
  geoTransform: number[];
  epsg: number;
  nodata: number | 'nan' | null;
  levels: [number, number][];
  dataType: string;
}

const GDAL_TYPES: Record<string, DataType> = { Byte: 'uint8', UInt16: 'uint16', Int16: 'int16', Float32: 'float32' };

let folder: string;
let meta: Record<string, GdalMeta>;
let server: RangeServer;
let client: RangeClient;

function gdalPixels(name: string, band: number, level: number) {
  return typedFromBytes(readFileSync(path.join(folder, `${name}.b${band}.l${level}.raw`)), GDAL_TYPES[meta[name].dataType]);
}

/** A fresh client and cache so counters start from a cold process. */
function coldReadSettings(options: ConstructorParameters<typeof RangeClient>[0] = {}) {
  forgetOpenCogs();
  server.resetCounters();
  return { client: new RangeClient({ retryBaseDelayMs: 10, ...options }), cache: new TileCache(64 * 1024 * 1024) };
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(os.tmpdir(), 'raster-reader-'));
  meta = JSON.parse(runPython(MAKE_COGS, [folder]).toString());
  server = await RangeServer.start(folder);
  client = new RangeClient({ retryBaseDelayMs: 10 });
});

afterAll(async () => {
  client.close();
  await server.close();
  await closeSharedDecodePool();
  rmSync(folder, { recursive: true, force: true });
});

describe('COG metadata', () => {
  test.each(['u8_deflate', 'u16_deflate_ovr', 'u16_bigtiff', 'i16_lzw', 'f32_deflate', 'rgb_deflate'])('%s matches gdalinfo', async (name) => {
    const info = await readInfo(server.url(`${name}.tif`), { client });
    const expected = meta[name];
    expect([info.width, info.height, info.bandCount]).toEqual([expected.width, expected.height, expected.bands]);
    expect(info.geoTransform).toEqual(expected.geoTransform);
    expect(info.epsg).toBe(expected.epsg);
    expect(info.dataType).toBe(GDAL_TYPES[expected.dataType]);
    expect(info.levels.map((l) => [l.width, l.height])).toEqual(expected.levels);
    if (expected.nodata === 'nan') expect(info.nodata).toBeNaN();
    else expect(info.nodata).toBe(expected.nodata ?? undefined);
    expect(info.bigTiff).toBe(name === 'u16_bigtiff');
  });
});

describe('pixels equal what GDAL reads', () => {
  test.each(['u8_deflate', 'u16_none', 'u16_lzw', 'u16_deflate_ovr', 'u16_bigtiff', 'i16_lzw', 'f32_deflate'])('%s, every level', async (name) => {
    const reader = await openCog(server.url(`${name}.tif`), { client });
    for (const level of reader.info.levels) {
      const pixels = await reader.readWindow(level.index, { x: 0, y: 0, width: level.width, height: level.height }, { client, cache: new TileCache(1 << 26) });
      expect(countDifferences(pixels, gdalPixels(name, 0, level.index))).toBe(0);
    }
  });

  test('a window across tile edges, partly outside the raster, is filled outside', async () => {
    const name = 'u16_lzw';
    const reader = await openCog(server.url(`${name}.tif`), { client });
    const window = { x: 600, y: 200, width: 150, height: 100 };
    const pixels = await reader.readWindow(0, window, { client, fill: 7, decoder: syncDecoder });
    const full = gdalPixels(name, 0, 0);
    for (let y = 0; y < window.height; y++) {
      for (let x = 0; x < window.width; x++) {
        const [sx, sy] = [window.x + x, window.y + y];
        expect(pixels[y * window.width + x]).toBe(sx < 700 ? full[sy * 700 + sx] : 7);
      }
    }
  });

  test('each band of a pixel-interleaved RGB COG', async () => {
    const grid: Grid = { epsg: 32610, transform: [500000, 10, 0, 5300000, 0, -10], width: 700, height: 500 };
    for (const band of [0, 1, 2]) {
      const { data } = await readToGrid(server.url('rgb_deflate.tif'), grid, { client, sampleBand: band });
      expect(countDifferences(data, gdalPixels('rgb_deflate', band, 0))).toBe(0);
    }
  });
});

describe('overview selection', () => {
  test("gdalwarp's rule: the coarsest level whose ratio does not exceed the target", () => {
    const levels = [{ width: 8000 }, { width: 4000 }, { width: 2000 }, { width: 1000 }];
    const targets = [0.5, 1, 1.9, 1.99, 2, 2.01, 3.99, 4, 5, 7.95, 8, 100];
    expect(targets.map((ratio) => chooseOverviewLevel(levels, ratio))).toEqual([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]);
  });

  test.each([10, 15, 20, 21, 30, 40, 55, 80, 160])('readToGrid at %i m picks the level gdalwarp does (same pixels)', async (resolution) => {
    const source = path.join(folder, 'u16_deflate_ovr.tif');
    const grid: Grid = { epsg: 32610, transform: [500000 + 3 * resolution, resolution, 0, 5300000 - 5 * resolution, 0, -resolution], width: Math.floor(18000 / resolution), height: Math.floor(17000 / resolution) };
    const { data, level } = await readToGrid(server.url('u16_deflate_ovr.tif'), grid, { client, nodata: 0 });
    expect(level).toBe(chooseOverviewLevel([{ width: 2048 }, { width: 1024 }, { width: 512 }, { width: 256 }], resolution / 10));
    expect(countDifferences(data, gdalWarpToGrid(source, grid, 'near', 0, 'uint16'))).toBe(0);
  });
});

describe('bytes and requests', () => {
  const name = 'u16_deflate_ovr.tif';
  const fullGrid: Grid = { epsg: 32610, transform: [500000, 10, 0, 5300000, 0, -10], width: 2048, height: 2048 };
  const coarseGrid: Grid = { ...fullGrid, transform: [500000, 80, 0, 5300000, 0, -80], width: 256, height: 256 };

  test('opening costs one request, the tile index of a level is in it', async () => {
    const settings = coldReadSettings();
    const info = await readInfo(server.url(name), settings);
    expect(server.requests).toBe(1);
    expect(server.log[0].range).toBe('bytes=0-65535');
    expect(info.headerBytes).toBe(65536);
  });

  test('an overview read moves far fewer bytes than a full read', async () => {
    const full = await readToGrid(server.url(name), fullGrid, coldReadSettings());
    const fullBytes = server.bytesSent;
    const coarse = await readToGrid(server.url(name), coarseGrid, coldReadSettings());
    const coarseBytes = server.bytesSent;
    expect(full.level).toBe(0);
    expect(coarse.level).toBe(3);
    expect(coarse.bytesRead).toBe(coarseBytes);
    expect(full.bytesRead).toBe(fullBytes);
    expect(coarseBytes * 30).toBeLessThan(fullBytes);
    // Header prefix + one merged request for the single overview tile.
    expect(coarse.requests).toBe(2);
  });

  test('adjacent tiles are merged into one request; a zero gap threshold splits them', async () => {
    const window: Grid = { ...fullGrid, transform: [500000, 10, 0, 5300000, 0, -10], width: 512, height: 256 };
    const merged = await readToGrid(server.url(name), window, coldReadSettings());
    expect(merged.requests).toBe(2);
    const split = await readToGrid(server.url(name), window, coldReadSettings({ mergeGapBytes: 0 }));
    expect(split.requests).toBe(3);
    expect(countDifferences(merged.data, split.data)).toBe(0);
  });

  test('cached tiles are not fetched again', async () => {
    const settings = coldReadSettings();
    await readToGrid(server.url(name), coarseGrid, settings);
    const again = await readToGrid(server.url(name), coarseGrid, settings);
    expect(again.requests).toBe(0);
    expect(again.bytesRead).toBe(0);
    expect(settings.cache.hits).toBeGreaterThan(0);
  });

  test('ranges plan: sorted, merged within the gap, capped in size', () => {
    const ranges = [
      { offset: 216, length: 100 },
      { offset: 0, length: 100 },
      { offset: 108, length: 100 },
      { offset: 5000, length: 10 },
    ];
    expect(planMergedRanges(ranges, 8, 1 << 20)).toEqual([
      { span: { offset: 0, length: 316 }, members: [1, 2, 0] },
      { span: { offset: 5000, length: 10 }, members: [3] },
    ]);
    expect(planMergedRanges(ranges, 8, 250).map((g) => g.members)).toEqual([[1, 2], [0], [3]]);
  });
});

describe('tile cache', () => {
  test('evicts the least recently used tiles beyond its byte budget', () => {
    const cache = new TileCache(3000);
    cache.set('a', new Uint8Array(1000));
    cache.set('b', new Uint8Array(1000));
    cache.set('c', new Uint8Array(1000));
    cache.get('a');
    cache.set('d', new Uint8Array(1000));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.byteSize).toBe(3000);
    cache.set('huge', new Uint8Array(5000));
    expect(cache.get('huge')).toBeUndefined();
  });
});

describe('faults', () => {
  const name = 'u8_deflate.tif';
  const grid: Grid = { epsg: 32610, transform: [500000, 10, 0, 5300000, 0, -10], width: 700, height: 500 };

  async function readAll(settings: ReturnType<typeof coldReadSettings>) {
    const result = await readToGrid(server.url(name), grid, settings);
    expect(countDifferences(result.data, gdalPixels('u8_deflate', 0, 0))).toBe(0);
    return result;
  }

  test('429 with Retry-After is retried after the delay it asks for', async () => {
    const settings = coldReadSettings();
    server.injectFaults({ kind: 'status', status: 429, retryAfter: '1' });
    const started = Date.now();
    await readAll(settings);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.log[0].status).toBe(429);
    expect(settings.client.stats.retries).toBe(1);
  });

  test('503 is retried', async () => {
    const settings = coldReadSettings();
    server.injectFaults({ kind: 'status', status: 503 }, { kind: 'status', status: 502 });
    await readAll(settings);
    expect(settings.client.stats.retries).toBe(2);
  });

  test('a connection dropped mid-body is retried', async () => {
    const settings = coldReadSettings();
    server.injectFaults({ kind: 'drop' });
    await readAll(settings);
    expect(settings.client.stats.retries).toBe(1);
  });

  test('gives up after the retry budget with the last status', async () => {
    const settings = coldReadSettings({ maxRetries: 2 });
    server.injectFaults(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 500 })));
    await expect(readToGrid(server.url(name), grid, settings)).rejects.toThrow('HTTP 500');
  });

  test('403 calls onForbidden once and retries with the URL it returns', async () => {
    const calls: string[] = [];
    const settings = coldReadSettings({
      onForbidden: async (url) => {
        calls.push(url);
        return url.replace('token=expired', 'token=fresh');
      },
    });
    server.requiredToken = 'fresh';
    try {
      const url = `${server.url(name)}?token=expired`;
      const result = await readToGrid(url, grid, settings);
      expect(countDifferences(result.data, gdalPixels('u8_deflate', 0, 0))).toBe(0);
      expect(calls).toEqual([url]);
      expect(server.log.filter((r) => r.status === 403)).toHaveLength(1);
    } finally {
      server.requiredToken = undefined;
    }
  });

  test('403 without a hook fails with the status', async () => {
    const settings = coldReadSettings();
    server.requiredToken = 'fresh';
    try {
      await expect(readToGrid(server.url(name), grid, settings)).rejects.toBeInstanceOf(HttpStatusError);
    } finally {
      server.requiredToken = undefined;
    }
  });

  test('an abort stops a read in flight and one already aborted never starts', async () => {
    const settings = coldReadSettings();
    await readInfo(server.url(name), settings);
    server.injectFaults({ kind: 'delay', ms: 1000 });
    const controller = new AbortController();
    const reading = readToGrid(server.url(name), grid, { ...settings, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(reading).rejects.toThrow(/abort/i);

    const before = server.requests;
    await expect(readToGrid(server.url(name), grid, { ...settings, signal: AbortSignal.abort() })).rejects.toThrow(/abort/i);
    expect(server.requests).toBe(before);
  });

  test('an abort during a Retry-After wait ends the read', async () => {
    const settings = coldReadSettings();
    await readInfo(server.url(name), settings);
    server.injectFaults({ kind: 'status', status: 429, retryAfter: '30' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(readToGrid(server.url(name), grid, { ...settings, signal: controller.signal })).rejects.toThrow(/abort/i);
  });
});
