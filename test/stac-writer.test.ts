import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gridForBbox } from '../src/raster/grid';
import {
  CATALOG_ID,
  COG_MEDIA_TYPE,
  EXTENSIONS,
  affineTransform,
  bandStatistics,
  buildCatalog,
  buildMosaicItem,
  monthlyMosaicPaths,
  writeCatalog,
  type MosaicItemInput,
} from '../src/stac/writer';
import { expectValid, loadStacValidators } from './stac-helpers';

const AOI: [number, number, number, number] = [-122.5, 47.4, -122.2, 47.7];
const GRID = gridForBbox(AOI, 32610, 100);

function monthInput(month: string, overrides: Partial<MosaicItemInput> = {}): MosaicItemInput {
  return {
    month,
    grid: GRID,
    dataType: 'uint16',
    bands: [
      { name: 'nir', commonName: 'nir', nodata: 0, statistics: bandStatistics(Uint16Array.from([0, 2000, 3000]), 0) },
      { name: 'red', commonName: 'red', nodata: 0, statistics: { valid_percent: 0 } },
      { name: 'green', commonName: 'green', nodata: 0 },
    ],
    acquisitions: [`${month}-20T19:03:21.024Z`, `${month}-05T19:03:21Z`, `${month}-12T19:03:21Z`],
    sources: [
      { id: `S2A_MSIL2A_${month.replace('-', '')}05`, href: `https://example.com/items/S2A_${month}` },
      { id: `S2B_MSIL2A_${month.replace('-', '')}12` },
    ],
    sourceCollection: 'sentinel-2-l2a',
    visual: true,
    software: { 'cloudless-mosaic-server': '0.1.0' },
    ...overrides,
  };
}

describe('STAC writer', () => {
  let validators: Awaited<ReturnType<typeof loadStacValidators>>;
  beforeAll(async () => {
    validators = await loadStacValidators();
  });

  test('items validate against STAC 1.0.0 and every extension they declare', () => {
    const item = buildMosaicItem(monthInput('2020-10'));
    expectValid(validators.item, item);
    expect(item.stac_extensions).toEqual(Object.values(EXTENSIONS));
    for (const url of item.stac_extensions!) expectValid(validators.extension(url), item);
  });

  test('the catalog validates and has the reference layout (pystac SELF_CONTAINED)', () => {
    const catalog = buildCatalog(['2020-10', '2020-11']);
    expectValid(validators.catalog, catalog);
    expect(catalog).toMatchObject({ type: 'Catalog', stac_version: '1.0.0', id: CATALOG_ID, title: 'Monthly Mosaics', description: 'Monthly mosaics of Sentinel-2 data' });
    expect(catalog.links).toEqual([
      { rel: 'root', href: './catalog.json', type: 'application/json', title: 'Monthly Mosaics' },
      { rel: 'item', href: './monthly-mosaic-2020-10/monthly-mosaic-2020-10.json', type: 'application/json' },
      { rel: 'item', href: './monthly-mosaic-2020-11/monthly-mosaic-2020-11.json', type: 'application/json' },
    ]);
  });

  test('the validators do reject a broken document', () => {
    const item = buildMosaicItem(monthInput('2020-10'));
    expect(validators.item({ ...item, stac_version: '0.9.0' })).toBe(false);
    const badRaster = structuredClone(item);
    badRaster.assets.data['raster:bands']![0].data_type = 'uint12';
    expect(validators.extension(EXTENSIONS.raster)(badRaster)).toBe(false);
    expect(validators.catalog({ ...buildCatalog([]), type: 'Collection' })).toBe(false);
  });

  test('item content: time range, footprint, projection, bands, provenance, relative assets and links', () => {
    const item = buildMosaicItem(monthInput('2020-11'));
    expect(item.id).toBe('monthly-mosaic-2020-11');
    expect(item.properties).toMatchObject({
      datetime: '2020-11-05T19:03:21.000Z',
      start_datetime: '2020-11-05T19:03:21.000Z',
      end_datetime: '2020-11-20T19:03:21.024Z',
      'proj:epsg': 32610,
      'proj:shape': [GRID.height, GRID.width],
      'proj:transform': [100, 0, GRID.transform[0], 0, -100, GRID.transform[3]],
      'mosaic:sources': ['S2A_MSIL2A_20201105', 'S2B_MSIL2A_20201112'],
      'processing:lineage': expect.stringContaining('median of 2 Sentinel-2 L2A scene(s) acquired in 2020-11'),
    });
    const [west, south, east, north] = item.bbox!;
    expect(west).toBeLessThanOrEqual(AOI[0]);
    expect(south).toBeLessThanOrEqual(AOI[1]);
    expect(east).toBeGreaterThanOrEqual(AOI[2]);
    expect(north).toBeGreaterThanOrEqual(AOI[3]);
    const ring = (item.geometry!.coordinates as number[][][])[0];
    expect(ring.length).toBeGreaterThan(5);
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    expect(item.assets.data).toMatchObject({ href: './monthly-mosaic-2020-11.tif', type: COG_MEDIA_TYPE, roles: ['data'] });
    expect(item.assets.data['eo:bands']).toEqual([
      { name: 'nir', common_name: 'nir' },
      { name: 'red', common_name: 'red' },
      { name: 'green', common_name: 'green' },
    ]);
    expect(item.assets.data['raster:bands']![0]).toEqual({
      data_type: 'uint16',
      nodata: 0,
      spatial_resolution: 100,
      statistics: { minimum: 2000, maximum: 3000, mean: 2500, stddev: 500, valid_percent: (100 * 2) / 3 },
    });
    expect(item.assets.visual).toMatchObject({ href: './monthly-mosaic-2020-11-visual.tif', roles: ['visual'] });
    expect(item.links).toEqual([
      { rel: 'root', href: '../catalog.json', type: 'application/json', title: 'Monthly Mosaics' },
      { rel: 'parent', href: '../catalog.json', type: 'application/json', title: 'Monthly Mosaics' },
      { rel: 'derived_from', href: 'https://example.com/items/S2A_2020-11', type: 'application/geo+json', title: 'S2A_MSIL2A_20201105' },
    ]);
    expect(item.links!.some((link) => link.rel === 'self')).toBe(false);
  });

  test('writeCatalog writes the items first, then catalog.json, in the reference folder layout', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stac-writer-'));
    try {
      const order: string[] = [];
      const write = async (relative: string, data: string) => {
        order.push(relative);
        await mkdir(path.dirname(path.join(dir, relative)), { recursive: true });
        await writeFile(path.join(dir, relative), data);
      };
      const months = ['2020-10', '2020-11', '2020-12'];
      const result = await writeCatalog(write, { items: months.map((month) => monthInput(month, { visual: false })) });
      expect(order).toEqual([...months.map((month) => `monthly-mosaic-${month}/monthly-mosaic-${month}.json`), 'catalog.json']);
      expect(result).toEqual({ catalog: 'catalog.json', items: order.slice(0, 3) });
      const catalog = JSON.parse(await readFile(path.join(dir, 'catalog.json'), 'utf8'));
      expectValid(validators.catalog, catalog);
      for (const link of catalog.links.filter((l: { rel: string }) => l.rel === 'item')) {
        const itemPath = path.join(dir, link.href);
        const item = JSON.parse(await readFile(itemPath, 'utf8'));
        expectValid(validators.item, item);
        // Relative links resolve back to the catalog; assets sit next to the item.
        expect(path.resolve(path.dirname(itemPath), item.links[0].href)).toBe(path.join(dir, 'catalog.json'));
        expect(path.resolve(path.dirname(itemPath), item.assets.data.href)).toBe(path.join(dir, monthlyMosaicPaths(item.id.slice('monthly-mosaic-'.length)).data));
        expect(item.assets.visual).toBeUndefined();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('input errors: a month twice, no acquisition, a malformed month', async () => {
    const noop = async () => {};
    await expect(writeCatalog(noop, { items: [monthInput('2020-10'), monthInput('2020-10')] })).rejects.toThrow(/duplicate months/);
    expect(() => buildMosaicItem(monthInput('2020-10', { acquisitions: [] }))).toThrow(/at least one acquisition/);
    expect(() => monthlyMosaicPaths('2020-1')).toThrow(/YYYY-MM/);
  });
});

describe('helpers', () => {
  test('bandStatistics excludes nodata and NaN', () => {
    expect(bandStatistics(Float32Array.from([NaN, 1, 3, -9999]), -9999)).toEqual({ minimum: 1, maximum: 3, mean: 2, stddev: 1, valid_percent: 50 });
    expect(bandStatistics(new Uint8Array(4), 0)).toEqual({ valid_percent: 0 });
  });

  test('affineTransform turns the GDAL geotransform into rasterio order', () => {
    expect(affineTransform([500000, 10, 0, 5300000, 0, -10])).toEqual([10, 0, 500000, 0, -10, 5300000]);
  });
});
