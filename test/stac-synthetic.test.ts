import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { transformer } from '../src/raster/crs';
import { resolveItemBands } from '../src/stac/bands';
import type { StacItem } from '../src/stac/types';
import {
  BASELINE_04_OFFSET,
  BOUNDARY_LON,
  PRESETS,
  tilesOf,
  type Tile,
  CLEAR_NOISE_DN,
  CLOUD_CLASSES,
  SCL,
  generateSyntheticData,
  loadSyntheticItems,
  surfaceDn,
  type Manifest,
} from './fixtures/sentinel2';
import { expectValid, loadStacValidators } from './stac-helpers';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'synthetic-s2-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function fileHashes(dir: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    hashes[path.relative(dir, file)] = createHash('sha256').update(await readFile(file)).digest('hex');
  }
  return hashes;
}

interface Raster {
  data: Uint16Array | Uint8Array;
  width: number;
  height: number;
  origin: number[];
  resolution: number[];
  images: number;
  nodata: number | null;
}

/** Reads band 1 of rasters with GDAL (a reader independent of ours): pixels, grid and number of overview levels. */
const GDAL_DUMP = `
import base64, json, sys
from osgeo import gdal
gdal.UseExceptions()
out = []
for path in sys.argv[1:]:
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    out.append({'width': ds.RasterXSize, 'height': ds.RasterYSize, 'transform': ds.GetGeoTransform(),
      'overviews': band.GetOverviewCount(), 'nodata': band.GetNoDataValue(),
      'dataType': gdal.GetDataTypeName(band.DataType), 'data': base64.b64encode(band.ReadRaster()).decode()})
print(json.dumps(out))
`;

const rasterCache = new Map<string, Raster>();

/** One GDAL process for all the files not read yet. */
function readRasters(files: string[]): void {
  const missing = files.filter((file) => !rasterCache.has(file));
  if (missing.length === 0) return;
  const dumps = JSON.parse(execFileSync('/usr/bin/python3', ['-c', GDAL_DUMP, ...missing], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }));
  dumps.forEach((dump: Record<string, any>, index: number) => {
    const copy = new Uint8Array(Buffer.from(dump.data, 'base64')).buffer;
    const data = dump.dataType === 'UInt16' ? new Uint16Array(copy) : new Uint8Array(copy);
    const [originX, pixelWidth, , originY, , pixelHeight] = dump.transform as number[];
    rasterCache.set(missing[index], { data, width: dump.width, height: dump.height, origin: [originX, originY], resolution: [pixelWidth, pixelHeight], images: 1 + dump.overviews, nodata: dump.nodata });
  });
}

function readRaster(file: string): Raster {
  readRasters([file]);
  return rasterCache.get(file)!;
}

let dataDir: string;
let manifest: Manifest;
let planetary: StacItem[];

beforeAll(async () => {
  dataDir = await tempDir();
  manifest = (await generateSyntheticData({ out: dataDir, size: 'tiny' })).manifest;
  planetary = await loadSyntheticItems(dataDir, 'planetary-computer', (file) => path.join(dataDir, file));
  readRasters(planetary.flatMap((item) => [item.assets.B04.href, item.assets.SCL.href]));
});

describe('the generator', () => {
  let again: string;

  test('is deterministic: the same seed gives byte-identical files, another seed another world', async () => {
    again = await tempDir();
    await generateSyntheticData({ out: again, size: 'tiny' });
    const [first, second] = await Promise.all([fileHashes(dataDir), fileHashes(again)]);
    expect(Object.keys(first).length).toBe(manifest.scenes.length * 7 + 3);
    expect(second).toEqual(first);
    const other = await generateSyntheticData({ out: await tempDir(), size: 'tiny', seed: 7, itemsOnly: true });
    expect(other.manifest.scenes.map((scene) => scene.cloudCover)).not.toEqual(manifest.scenes.map((scene) => scene.cloudCover));
  });

  test('is idempotent: a complete folder is left alone, a missing file is rewritten alone', async () => {
    const dir = again;
    expect((await generateSyntheticData({ out: dir, size: 'tiny' })).written).toBe(0);
    const victim = path.join(dir, manifest.scenes[3].files.B08);
    const before = await readFile(victim);
    await rm(victim);
    const rerun = await generateSyntheticData({ out: dir, size: 'tiny' });
    expect(rerun.written).toBe(1 + 2 + 1); // the raster, both item catalogues, the manifest
    expect(await readFile(victim)).toEqual(before);
  });

  test('items look like Planetary Computer and Earth Search items over two UTM zones', async () => {
    const earthSearch = await loadSyntheticItems(dataDir, 'earth-search');
    expect(new Set(planetary.map((item) => item.properties['proj:epsg']))).toEqual(new Set([32610, 32611]));
    expect(new Set(planetary.map((item) => item.properties['s2:processing_baseline']))).toEqual(new Set(['03.01', '04.00']));
    const cloudCovers = planetary.map((item) => item.properties['eo:cloud_cover'] as number);
    expect(cloudCovers.some((value) => value >= 25)).toBe(true);
    expect(cloudCovers.some((value) => value < 25)).toBe(true);
    expect(new Set(planetary.map((item) => String(item.properties.datetime).slice(0, 7)))).toEqual(new Set(['2020-10', '2020-11', '2020-12']));
    for (const item of planetary) {
      expect(Object.keys(item.assets).sort()).toEqual(['B02', 'B03', 'B04', 'B05', 'B08', 'B11', 'SCL']);
      expect(item.properties).toMatchObject({ platform: expect.stringMatching(/^Sentinel-2[AB]$/), constellation: 'Sentinel 2', 's2:mgrs_tile': expect.any(String) });
      expect(item.assets.B04).toMatchObject({ gsd: 10, 'proj:shape': [128, 128], 'eo:bands': [{ name: 'B04', common_name: 'red' }] });
      expect(item.assets.B11).toMatchObject({ gsd: 20, 'proj:shape': [64, 64] });
    }
    expect(earthSearch.map((item) => item.properties.datetime)).toEqual(planetary.map((item) => item.properties.datetime));
    expect(Object.keys(earthSearch[0].assets).sort()).toEqual(['blue', 'green', 'nir', 'red', 'rededge1', 'scl', 'swir16']);
  });

  test('Planetary-Computer-shaped items validate against STAC 1.0.0, eo and projection', async () => {
    const validators = await loadStacValidators();
    const eo = validators.extension('https://stac-extensions.github.io/eo/v1.0.0/schema.json');
    const projection = validators.extension('https://stac-extensions.github.io/projection/v1.0.0/schema.json');
    for (const item of await loadSyntheticItems(dataDir, 'planetary-computer')) {
      expectValid(validators.item, item);
      expectValid(eo, item);
      expectValid(projection, item);
    }
  });

  test.each(['tiny', 'small', 'bench'] as const)('%s: the AOI straddles the zone boundary and each half lies inside its zone\'s tile', (size) => {
    const [west, south, east, north] = PRESETS[size].aoi;
    const [westTile, eastTile] = tilesOf(PRESETS[size]);
    expect(west).toBeLessThan(BOUNDARY_LON);
    expect(east).toBeGreaterThan(BOUNDARY_LON);
    const inside = (tile: Tile, lon: number, lat: number) => {
      const [x, y] = transformer(4326, tile.epsg)(lon, lat);
      const [originX, , , originY] = tile.grid10.transform;
      return x > originX && x < originX + tile.grid10.width * 10 && y < originY && y > originY - tile.grid10.height * 10;
    };
    for (let i = 0; i <= 10; i++) {
      const lat = south + ((north - south) * i) / 10;
      for (let j = 0; j <= 10; j++) {
        expect(inside(westTile, west + ((BOUNDARY_LON + 0.003 - west) * j) / 10, lat)).toBe(true);
        expect(inside(eastTile, BOUNDARY_LON - 0.003 + ((east - BOUNDARY_LON + 0.003) * j) / 10, lat)).toBe(true);
      }
    }
  });

  test('COGs carry internal overviews, nodata 0 and the tile grid', async () => {
    const item = planetary[0];
    const red = readRaster(item.assets.B04.href);
    expect(red.images).toBeGreaterThan(1);
    expect([red.width, red.height]).toEqual([128, 128]);
    const transform = item.assets.B04['proj:transform'] as number[];
    expect(red.origin.slice(0, 2)).toEqual([transform[2], transform[5]]);
    const scl = readRaster(item.assets.SCL.href);
    expect(scl.resolution.slice(0, 2)).toEqual([20, -20]);
    expect(scl.images).toBeGreaterThan(1);
    expect([red.nodata, scl.nodata]).toEqual([0, 0]);
  });
});

describe('pixels and the truth function', () => {
  async function scene(item: StacItem) {
    const [red, scl] = [readRaster(item.assets.B04.href), readRaster(item.assets.SCL.href)];
    const toWgs84 = transformer(item.properties['proj:epsg'] as number, 4326);
    const dnOffset = resolveItemBands(item, ['red']).bands[0].dnOffset;
    const classAt = (x: number, y: number) => scl.data[(y >> 1) * scl.width + (x >> 1)];
    const truthAt = (x: number, y: number) => {
      const [lon, lat] = toWgs84(red.origin[0] + (x + 0.5) * 10, red.origin[1] - (y + 0.5) * 10);
      return surfaceDn('B04', lon, lat);
    };
    return { red, scl, dnOffset, classAt, truthAt };
  }

  test('clear pixels are the surface (±noise) once harmonised; clouds bright; shadows dark; nodata 0 in both', async () => {
    const counts = { clear: 0, cloud: 0, shadow: 0, nodata: 0 };
    for (const item of planetary) {
      const { red, dnOffset, classAt, truthAt } = await scene(item);
      expect(dnOffset).toBe(item.properties['s2:processing_baseline'] === '04.00' ? -BASELINE_04_OFFSET : 0);
      for (let y = 0; y < red.height; y += 3) {
        for (let x = 0; x < red.width; x += 3) {
          const value = red.data[y * red.width + x];
          const cls = classAt(x, y);
          if (cls === SCL.NO_DATA) {
            expect(value).toBe(0);
            counts.nodata++;
          } else if (CLOUD_CLASSES.includes(cls)) {
            expect(value + dnOffset).toBeGreaterThanOrEqual(6000);
            expect(value + dnOffset).toBeLessThanOrEqual(9000);
            counts.cloud++;
          } else if (cls === SCL.CLOUD_SHADOW) {
            expect(value + dnOffset).toBeLessThan(truthAt(x, y) * 0.5);
            counts.shadow++;
          } else {
            expect([SCL.VEGETATION, SCL.NOT_VEGETATED]).toContain(cls);
            expect(Math.abs(value + dnOffset - truthAt(x, y))).toBeLessThanOrEqual(CLEAR_NOISE_DN);
            counts.clear++;
          }
        }
      }
    }
    for (const count of Object.values(counts)) expect(count).toBeGreaterThan(0);
  });

  test('eo:cloud_cover is the share of cloud classes among valid SCL pixels', async () => {
    for (const item of planetary) {
      const { scl } = await scene(item);
      const valid = scl.data.filter((value) => value !== SCL.NO_DATA).length;
      const cloudy = scl.data.filter((value) => CLOUD_CLASSES.includes(value)).length;
      expect(item.properties['eo:cloud_cover']).toBeCloseTo((100 * cloudy) / valid, 2);
    }
  });

  test('both zones see the same ground: clear pixels agree across the zone boundary', async () => {
    const sameDay = planetary.filter((item) => item.properties.datetime === planetary[0].properties.datetime);
    expect(sameDay).toHaveLength(2);
    const [west, east] = await Promise.all(sameDay.map(scene));
    const [westEpsg, eastEpsg] = sameDay.map((item) => item.properties['proj:epsg'] as number);
    const westToEast = transformer(westEpsg, eastEpsg);
    let compared = 0;
    for (let y = 0; y < west.red.height; y += 4) {
      for (let x = 0; x < west.red.width; x += 4) {
        const [ex, ey] = westToEast(west.red.origin[0] + (x + 0.5) * 10, west.red.origin[1] - (y + 0.5) * 10);
        const col = Math.floor((ex - east.red.origin[0]) / 10);
        const row = Math.floor((east.red.origin[1] - ey) / 10);
        if (col < 0 || row < 0 || col >= east.red.width || row >= east.red.height) continue;
        if (![SCL.VEGETATION, SCL.NOT_VEGETATED].includes(west.classAt(x, y) as 4 | 5)) continue;
        if (![SCL.VEGETATION, SCL.NOT_VEGETATED].includes(east.classAt(col, row) as 4 | 5)) continue;
        const westValue = west.red.data[y * west.red.width + x] + west.dnOffset;
        const eastValue = east.red.data[row * east.red.width + col] + east.dnOffset;
        // Two noisy samples up to one pixel apart on a field that changes < 1 DN per metre.
        expect(Math.abs(westValue - eastValue)).toBeLessThanOrEqual(2 * CLEAR_NOISE_DN + 15);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(50);
  });
});
