import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApproxTransformer } from '../src/raster/approx-transformer';
import { closeSharedDecodePool, openCog } from '../src/raster/cog-reader';
import { transformer } from '../src/raster/crs';
import { RangeClient } from '../src/raster/http-client';
import { readToGrid } from '../src/raster/read-to-grid';
import type { Grid } from '../src/raster/types';
import { gridToSourcePixels, NearestMapCache, warp, type WarpGeometry } from '../src/raster/warp';
import { countDifferences, gdalWarpToGrid, runPython, typedFromBytes } from './helpers/gdal';
import { RangeServer } from './helpers/range-server';

/** Two UInt16 COGs in UTM zone 10N next to the zone 11 edge (one with overviews), plus their pixels as raw. */
const MAKE_SOURCES = `
import sys
import numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
out = sys.argv[1]
rng = np.random.default_rng(11)
def write(name, size, options):
    y, x = np.mgrid[0:size, 0:size]
    a = (1000 + 20000 * (np.sin(x / 17.0) * np.cos(y / 29.0) + 1) + rng.integers(0, 3000, (size, size))).astype(np.uint16)
    mem = gdal.GetDriverByName('MEM').Create('', size, size, 1, gdal.GDT_UInt16)
    mem.SetGeoTransform((680000, 10, 0, 5220000, 0, -10))
    srs = osr.SpatialReference(); srs.ImportFromEPSG(32610); mem.SetProjection(srs.ExportToWkt())
    mem.GetRasterBand(1).WriteArray(a)
    gdal.Translate(out + '/' + name + '.tif', mem, format='COG', creationOptions=['BLOCKSIZE=256', 'COMPRESS=DEFLATE', 'PREDICTOR=YES'] + options)
    open(out + '/' + name + '.raw', 'wb').write(a.astype('<u2').tobytes())
write('zone10', 600, ['OVERVIEWS=NONE'])
write('zone10_ovr', 1600, [])
`;

let folder: string;
let server: RangeServer;
let client: RangeClient;

/** A grid in EPSG:32611 over the source's footprint (plus `margin` metres), snapped to the resolution. */
function zone11Grid(size: number, resolution: number, margin: number): Grid {
  const toZone11 = transformer(32610, 32611);
  const corners = [
    [680000, 5220000],
    [680000 + size * 10, 5220000],
    [680000, 5220000 - size * 10],
    [680000 + size * 10, 5220000 - size * 10],
  ].map(([x, y]) => toZone11(x, y));
  const left = Math.floor((Math.min(...corners.map((c) => c[0])) - margin) / resolution) * resolution;
  const right = Math.ceil((Math.max(...corners.map((c) => c[0])) + margin) / resolution) * resolution;
  const bottom = Math.floor((Math.min(...corners.map((c) => c[1])) - margin) / resolution) * resolution;
  const top = Math.ceil((Math.max(...corners.map((c) => c[1])) + margin) / resolution) * resolution;
  return { epsg: 32611, transform: [left, resolution, 0, top, 0, -resolution], width: (right - left) / resolution, height: (top - bottom) / resolution };
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(os.tmpdir(), 'raster-warp-'));
  runPython(MAKE_SOURCES, [folder]);
  server = await RangeServer.start(folder);
  client = new RangeClient();
});

afterAll(async () => {
  client.close();
  await server.close();
  await closeSharedDecodePool();
  rmSync(folder, { recursive: true, force: true });
});

describe('nearest neighbour across UTM zones equals gdalwarp -r near', () => {
  test.each([
    ['zone10', 600, 10, 200],
    ['zone10', 600, 7, 0],
    ['zone10', 600, 23, 500],
    ['zone10_ovr', 1600, 50, 300],
    ['zone10_ovr', 1600, 95, 0],
  ])('%s (%i px) to EPSG:32611 at %i m, %i m margin', async (name, size, resolution, margin) => {
    const grid = zone11Grid(size, resolution, margin);
    const ours = await readToGrid(server.url(`${name}.tif`), grid, { client, nodata: 0 });
    const gdal = gdalWarpToGrid(path.join(folder, `${name}.tif`), grid, 'near', 0, 'uint16');
    expect(countDifferences(ours.data, gdal)).toBe(0);
    // Sanity: the grid is mostly covered, with nodata around the rotated footprint when there is a margin.
    const filled = ours.data.filter((v) => v !== 0).length;
    expect(filled).toBeGreaterThan(grid.width * grid.height * 0.5);
  });
});

describe('nearest index maps', () => {
  test('reads sharing a NearestMapCache give gdalwarp\'s pixels, with one map per geometry', async () => {
    const grid = zone11Grid(600, 10, 200);
    const maps = new NearestMapCache();
    const gdal = gdalWarpToGrid(path.join(folder, 'zone10.tif'), grid, 'near', 0, 'uint16');
    for (let read = 0; read < 2; read++) {
      const ours = await readToGrid(server.url('zone10.tif'), grid, { client, nodata: 0, maps });
      expect(countDifferences(ours.data, gdal)).toBe(0);
    }
    const geometry: WarpGeometry = { width: 600, height: 600, offsetX: 0, offsetY: 0, geoTransform: [680000, 10, 0, 5220000, 0, -10], epsg: 32610 };
    expect(maps.get(geometry, grid, 0.125)).toBe(maps.get({ ...geometry }, grid, 0.125));
    expect(maps.get({ ...geometry, offsetX: 1 }, grid, 0.125)).not.toBe(maps.get(geometry, grid, 0.125));
  });

  test('one map serves sources of different values and nodata', () => {
    const grid = zone11Grid(100, 10, 50);
    const geometry: WarpGeometry = { width: 100, height: 100, offsetX: 0, offsetY: 0, geoTransform: [680000, 10, 0, 5220000, 0, -10], epsg: 32610 };
    const maps = new NearestMapCache();
    for (const [seed, nodata] of [[1, undefined], [2, 7], [3, Number.NaN]] as const) {
      const data = Float32Array.from({ length: 100 * 100 }, (_, i) => ((i * 7919 + seed) % 13 === 0 ? (nodata ?? 0) : (i * seed) % 1000));
      const source = { ...geometry, data, nodata };
      expect(Array.from(warp(source, grid, { nodata: -1, maps }))).toEqual(Array.from(warp(source, grid, { nodata: -1 })));
    }
  });
});

describe('bilinear', () => {
  test('is within one count of gdalwarp -r bilinear, and almost always equal', async () => {
    const grid = zone11Grid(600, 10, 100);
    const ours = await readToGrid(server.url('zone10.tif'), grid, { client, nodata: 0, resampling: 'bilinear' });
    const gdal = gdalWarpToGrid(path.join(folder, 'zone10.tif'), grid, 'bilinear', 0, 'uint16');
    let maxDifference = 0;
    let differences = 0;
    for (let i = 0; i < gdal.length; i++) {
      const difference = Math.abs(ours.data[i] - gdal[i]);
      if (difference > 0) differences++;
      maxDifference = Math.max(maxDifference, difference);
    }
    expect(maxDifference).toBeLessThanOrEqual(1);
    expect(differences).toBeLessThan(gdal.length * 0.01);
  });
});

describe('identity grid', () => {
  const grid: Grid = { epsg: 32610, transform: [680000, 10, 0, 5220000, 0, -10], width: 600, height: 600 };

  test.each(['nearest', 'bilinear'] as const)('readToGrid with %s returns the source pixels', async (resampling) => {
    const source = typedFromBytes(readFileSync(path.join(folder, 'zone10.raw')), 'uint16');
    const { data, level } = await readToGrid(server.url('zone10.tif'), grid, { client, resampling });
    expect(level).toBe(0);
    expect(countDifferences(data, source)).toBe(0);
  });

  test('warp() itself reproduces the source on its own grid', async () => {
    const source = typedFromBytes(readFileSync(path.join(folder, 'zone10.raw')), 'uint16');
    const { info } = await openCog(server.url('zone10.tif'), { client });
    for (const resampling of ['nearest', 'bilinear'] as const) {
      const data = warp({ data: source, width: 600, height: 600, offsetX: 0, offsetY: 0, geoTransform: info.geoTransform, epsg: 32610 }, grid, { resampling });
      expect(countDifferences(data, source)).toBe(0);
    }
  });
});

describe('approximate transformer', () => {
  test('stays within 0.125 source pixels of the exact transform with few exact calls', () => {
    const grid = zone11Grid(600, 10, 0);
    const exact = gridToSourcePixels(grid, 32610, [680000, 10, 0, 5220000, 0, -10]);
    let exactCalls = 0;
    const counted = (x: number, y: number) => {
      exactCalls++;
      return exact(x, y);
    };
    const approx = createApproxTransformer(counted, 0.125);
    const xs = new Float64Array(grid.width);
    const ys = new Float64Array(grid.width);
    let worst = 0;
    for (let row = 0; row < grid.height; row += 37) {
      for (let i = 0; i < grid.width; i++) [xs[i], ys[i]] = [i + 0.5, row + 0.5];
      approx(xs, ys, grid.width);
      for (let i = 0; i < grid.width; i++) {
        const [x, y] = exact(i + 0.5, row + 0.5);
        worst = Math.max(worst, Math.abs(xs[i] - x) + Math.abs(ys[i] - y));
      }
    }
    expect(worst).toBeLessThanOrEqual(0.125);
    const rows = Math.ceil(grid.height / 37);
    expect(exactCalls).toBeLessThan(rows * grid.width * 0.05);
  });

  test('with a zero threshold every point is exact', () => {
    const exact = (x: number, y: number) => [x * 2 + Math.sin(x), y] as const;
    const approx = createApproxTransformer(exact, 0);
    const xs = Float64Array.from({ length: 50 }, (_, i) => i + 0.5);
    const ys = new Float64Array(50).fill(3.5);
    approx(xs, ys, 50);
    for (let i = 0; i < 50; i++) expect(xs[i]).toBe(exact(i + 0.5, 3.5)[0]);
  });
});
