import { MissingAssetError, SENTINEL2_BAND_NAMES, UnknownBandError, assertKnownBands, bandIdOf, resolveItemBands } from '../src/stac/bands';
import type { StacItem } from '../src/stac/types';
import { loadSyntheticItems } from './fixtures/sentinel2';
import { tinyItemsDir } from './stac-helpers';

let planetary: StacItem[];
let earthSearch: StacItem[];
let removeData: () => Promise<void>;

beforeAll(async () => {
  const data = await tinyItemsDir();
  removeData = data.remove;
  planetary = await loadSyntheticItems(data.dir, 'planetary-computer');
  earthSearch = await loadSyntheticItems(data.dir, 'earth-search');
});

afterAll(() => removeData());

const byBaseline = (items: StacItem[], baseline: string) => items.find((item) => item.properties['s2:processing_baseline'] === baseline)!;

describe('band names', () => {
  test('the full Sentinel-2 list, by common name and by band id', () => {
    const expected: Record<string, string> = {
      coastal: 'B01', blue: 'B02', green: 'B03', red: 'B04', rededge: 'B05', rededge1: 'B05', rededge2: 'B06', rededge3: 'B07',
      nir: 'B08', nir08: 'B8A', nir09: 'B09', cirrus: 'B10', swir16: 'B11', swir22: 'B12',
    };
    for (const [name, id] of Object.entries(expected)) {
      expect(bandIdOf(name)).toBe(id);
      expect(bandIdOf(id)).toBe(id);
      expect(SENTINEL2_BAND_NAMES).toEqual(expect.arrayContaining([name, id]));
    }
    expect(bandIdOf('NIR')).toBe('B08');
    expect(bandIdOf('b8a')).toBe('B8A');
    expect(bandIdOf('B4')).toBe('B04');
  });

  test('an unknown band is an UnknownBandError listing the valid names', () => {
    expect(() => assertKnownBands(['red', 'ultraviolet'])).toThrow(UnknownBandError);
    expect(() => bandIdOf('B13')).toThrow(/unknown Sentinel-2 band 'B13'; valid names: coastal, blue/);
  });
});

describe('resolveItemBands', () => {
  test('Planetary Computer: assets B04… found through eo:bands common names; SCL; baseline offsets', () => {
    const old = resolveItemBands(byBaseline(planetary, '03.01'), ['nir', 'red', 'green']);
    expect(old.bands.map((band) => band.assetKey)).toEqual(['B08', 'B04', 'B03']);
    expect(old.bands.every((band) => band.href.endsWith(`/${band.assetKey}.tif`))).toBe(true);
    expect(old.bands[0]).toMatchObject({ band: 'nir', scale: 1, offset: 0, nodata: 0, dnOffset: 0 });
    expect(old.scl).toEqual({ assetKey: 'SCL', href: expect.stringMatching(/SCL\.tif$/) });
    expect(old.processingBaseline).toBe('03.01');
    const current = resolveItemBands(byBaseline(planetary, '04.00'), ['red']);
    expect(current.bands[0].dnOffset).toBe(-1000);
  });

  test('Earth Search: assets red, nir, rededge1, scl; raster:bands scale and offset; same files as Planetary Computer', () => {
    const current = byBaseline(earthSearch, '04.00');
    const resolved = resolveItemBands(current, ['red', 'nir', 'rededge', 'swir16']);
    expect(resolved.bands.map((band) => band.assetKey)).toEqual(['red', 'nir', 'rededge1', 'swir16']);
    expect(resolved.bands[0]).toMatchObject({ scale: 0.0001, offset: -0.1, nodata: 0, dnOffset: -1000 });
    expect(resolved.scl.assetKey).toBe('scl');
    const old = resolveItemBands(byBaseline(earthSearch, '03.01'), ['red']);
    expect(old.bands[0]).toMatchObject({ offset: 0, dnOffset: 0 });
    const twin = planetary.find((item) => item.properties.datetime === current.properties.datetime && item.properties['s2:mgrs_tile'] === current.properties['s2:mgrs_tile'])!;
    expect(resolveItemBands(twin, ['red']).bands[0].href).toBe(resolved.bands[0].href);
  });

  test('Earth Search items without eo:bands resolve by asset key; STAC 1.1 `bands` are read too', () => {
    const item = structuredClone(byBaseline(earthSearch, '04.00'));
    for (const asset of Object.values(item.assets)) delete asset['eo:bands'];
    expect(resolveItemBands(item, ['green', 'rededge1']).bands.map((band) => band.assetKey)).toEqual(['green', 'rededge1']);
    const unified = structuredClone(byBaseline(planetary, '03.01'));
    unified.assets = { image_red: { href: 'r.tif', bands: [{ name: 'B04', nodata: 0, scale: 0.0001, offset: 0 }] }, scl: { href: 's.tif' } };
    expect(resolveItemBands(unified, ['red']).bands[0]).toMatchObject({ assetKey: 'image_red', scale: 0.0001 });
  });

  test('a band the item lacks (cirrus is not in L2A) is a MissingAssetError', () => {
    expect(() => resolveItemBands(planetary[0], ['cirrus'])).toThrow(MissingAssetError);
    const withoutScl = structuredClone(planetary[0]);
    delete withoutScl.assets.SCL;
    expect(() => resolveItemBands(withoutScl, ['red'])).toThrow(/has no asset for band 'SCL'/);
  });
});
