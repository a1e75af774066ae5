/**
 * The cloudless-mosaic process end to end through the OGC API: synthetic Sentinel-2 scenes over two UTM zones,
 * served by a local STAC API; results checked against GDAL + numpy and against the known clean surface.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pixelCentresLonLat, surfaceDn } from './fixtures/sentinel2';
import type { Grid } from '../src/raster/types';
import { UNIT_TILE_SIZE } from '../processes/cloudless-mosaic';
import { readWithGdal, runMosaic, startMosaicWorld, validateCog, type MosaicWorld } from './helpers/mosaic';

const BAND_FILES: Record<string, 'B08' | 'B04' | 'B03'> = { nir: 'B08', red: 'B04', green: 'B03' };
const DEFAULT_MASK = [0, 1, 3, 8, 9, 10];
/** A pixel farther than this from the clean surface holds cloud or shadow (clear noise is ±12 DN). */
const CONTAMINATION_DN = 250;

interface ManifestScene {
  id: string;
  datetime: string;
  baseline: string;
  cloudCover: number;
  files: Record<string, string>;
}

function gridOf(item: any): Grid {
  const [a, b, c, d, e, f] = item.properties['proj:transform'];
  const [height, width] = item.properties['proj:shape'];
  return { epsg: item.properties['proj:epsg'], transform: [c, a, b, f, d, e], width, height };
}

/** The month's medians computed independently: GDAL warps, numpy takes the nan-median. */
function oracle(world: MosaicWorld, month: string, grid: Grid, mask: number[], bands: string[]) {
  const manifest = JSON.parse(readFileSync(path.join(world.dataDir, 'manifest.json'), 'utf8'));
  const scenes = (manifest.scenes as ManifestScene[]).filter((scene) => scene.datetime.startsWith(month) && scene.cloudCover < 25);
  const out = mkdtempSync(path.join(tmpdir(), 'median-oracle-'));
  const request = {
    grid: { ...grid, tileSize: UNIT_TILE_SIZE },
    mask,
    out,
    scenes: scenes.map((scene) => ({
      bands: bands.map((band) => path.join(world.dataDir, scene.files[BAND_FILES[band]])),
      scl: path.join(world.dataDir, scene.files.SCL),
      dnOffset: Number.parseFloat(scene.baseline) >= 4 ? -1000 : 0,
    })),
  };
  execFileSync('/usr/bin/python3', [path.join(__dirname, 'oracles', 'median_oracle.py')], { input: JSON.stringify(request) });
  const pixels = grid.width * grid.height;
  const median = readFileSync(path.join(out, 'median.bin'));
  const all = new Uint16Array(median.buffer, median.byteOffset, median.byteLength / 2);
  return {
    bands: bands.map((_, i) => all.slice(i * pixels, (i + 1) * pixels)),
    clear: new Uint8Array(readFileSync(path.join(out, 'clear.bin'))),
  };
}

/** Share of the output's valid pixels with a clear observation whose value is off the clean surface. */
function residualCloudShare(bands: Uint16Array[], names: string[], grid: Grid, clear: Uint8Array): number {
  const { lon, lat } = pixelCentresLonLat(grid);
  let counted = 0;
  let contaminated = 0;
  for (let i = 0; i < bands[0].length; i++) {
    if (bands[0][i] === 0 || !clear[i]) continue;
    counted++;
    const off = names.some((name, b) => Math.abs(bands[b][i] - surfaceDn(BAND_FILES[name], lon[i], lat[i])) > CONTAMINATION_DN);
    if (off) contaminated++;
  }
  if (counted === 0) throw new Error('no valid pixel to measure');
  return contaminated / counted;
}

function differingPixels(actual: Uint16Array[], expected: Uint16Array[]): number {
  let differing = 0;
  actual.forEach((band, b) => band.forEach((value, i) => (differing += value === expected[b][i] ? 0 : 1)));
  return differing;
}

function monthFiles(folder: string): string[] {
  return readdirSync(folder).filter((name) => name.startsWith('monthly-mosaic-')).sort();
}

describe('cloudless-mosaic on synthetic scenes across two UTM zones (embedded)', () => {
  let world: MosaicWorld;
  const bands = ['nir', 'red', 'green'];
  let masked: Awaited<ReturnType<typeof runMosaic>>;

  beforeAll(async () => {
    world = await startMosaicWorld('small', 'embedded', { pageSize: 5 });
    masked = await runMosaic(world, { resolution: 20, bands });
  }, 300_000);
  afterAll(() => world?.close());

  test('succeeds with a stac-catalog result linking to catalog.json, having paged through the search', async () => {
    expect(masked.status.status).toBe('successful');
    const results: any = await (await fetch(`${masked.jobUrl}/results`)).json();
    expect(results['stac-catalog'].href).toMatch(new RegExp(`/jobs/${masked.jobId}/files/catalog\\.json$`));
    const catalog: any = await (await fetch(results['stac-catalog'].href)).json();
    expect(catalog.id).toBe('monthly-mosaics');
    expect(catalog.links.filter((link: any) => link.rel === 'item').map((link: any) => link.href)).toEqual([
      './monthly-mosaic-2020-10/monthly-mosaic-2020-10.json',
      './monthly-mosaic-2020-11/monthly-mosaic-2020-11.json',
      './monthly-mosaic-2020-12/monthly-mosaic-2020-12.json',
    ]);
    expect(world.stac.counters.searchRequests).toBeGreaterThan(1);
    expect(monthFiles(masked.folder)).toEqual(['monthly-mosaic-2020-10', 'monthly-mosaic-2020-11', 'monthly-mosaic-2020-12']);
    expect(existsSync(path.join(masked.folder, '.work'))).toBe(false);
  });

  test('every COG is valid and georeferenced on the snapped UTM grid, exactly', () => {
    for (const month of monthFiles(masked.folder)) {
      for (const file of [`${month}.tif`, `${month}-visual.tif`]) {
        expect(validateCog(path.join(masked.folder, month, file))).toMatch(/is a valid cloud optimized GeoTIFF/);
      }
      const item = JSON.parse(readFileSync(path.join(masked.folder, month, `${month}.json`), 'utf8'));
      const { info } = readWithGdal(path.join(masked.folder, month, `${month}.tif`));
      const grid = gridOf(item);
      expect(info.geoTransform).toEqual(grid.transform);
      expect(info.geoTransform[0] % 20).toBe(0);
      expect(info.geoTransform[3] % 20).toBe(0);
      expect(info.coordinateSystem.wkt).toMatch(/UTM zone 11N/);
      expect(info.bands.map((band: any) => [band.type, band.noDataValue, band.description])).toEqual(bands.map((b) => ['UInt16', 0, b]));
      expect(item.assets.data.roles).toEqual(['data']);
      expect(item.assets.visual.roles).toEqual(['visual']);
    }
  });

  test('equals GDAL + numpy medians on the same grid, and leaves under 0.1% residual cloud', () => {
    for (const month of ['2020-10', '2020-11', '2020-12']) {
      const name = `monthly-mosaic-${month}`;
      const item = JSON.parse(readFileSync(path.join(masked.folder, name, `${name}.json`), 'utf8'));
      const grid = gridOf(item);
      const ours = readWithGdal(path.join(masked.folder, name, `${name}.tif`));
      const expected = oracle(world, month, grid, DEFAULT_MASK, bands);
      expect(ours.bands[0].length).toBe(grid.width * grid.height);
      expect(differingPixels(ours.bands, expected.bands)).toBe(0);
      expect(residualCloudShare(ours.bands, bands, grid, expected.clear)).toBeLessThan(0.001);
    }
  });

  test('without the per-pixel mask it reproduces the reference: medians of every observation, with clouds left in', async () => {
    const unmasked = await runMosaic(world, { resolution: 20, bands, mask: [] });
    expect(unmasked.status.status).toBe('successful');
    const month = '2020-11';
    const name = `monthly-mosaic-${month}`;
    const item = JSON.parse(readFileSync(path.join(unmasked.folder, name, `${name}.json`), 'utf8'));
    const grid = gridOf(item);
    const ours = readWithGdal(path.join(unmasked.folder, name, `${name}.tif`));
    const expected = oracle(world, month, grid, [], bands);
    expect(differingPixels(ours.bands, expected.bands)).toBe(0);
    const maskedBands = readWithGdal(path.join(masked.folder, name, `${name}.tif`)).bands;
    const share = residualCloudShare(ours.bands, bands, grid, expected.clear);
    console.log(`residual cloud share ${month}: mask on ${residualCloudShare(maskedBands, bands, grid, expected.clear)}, mask [] ${share}`);
    expect(share).toBeGreaterThan(0.001);
  }, 300_000);
});
