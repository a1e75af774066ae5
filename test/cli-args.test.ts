import { parseCliArguments, UsageError } from '../src/cli/args';

describe('cloudless-mosaic command-line flags', () => {
  test('maps the reference flags to process inputs', () => {
    const parsed = parseCliArguments([
      '--start-date', '2020-10-01', '--end-date', '2020-12-31', '--aoi', '-122.2,47.5,-121.9,47.7',
      '--bands', 'nir', '--bands', 'red', '--bands', 'green', '--collection', 'sentinel-2-l2a',
      '--resolution', '20', '--max-items', '50', '--max-cloud-cover', '30', '--output', '/tmp/out',
    ]);
    expect(parsed.inputs).toEqual({
      'start-date': '2020-10-01', 'end-date': '2020-12-31', aoi: '-122.2,47.5,-121.9,47.7',
      bands: ['nir', 'red', 'green'], collection: 'sentinel-2-l2a', resolution: 20, max_items: 50, max_cloud_cover: 30,
    });
    expect(parsed.output).toBe('/tmp/out');
  });

  test('leaves absent flags to the process defaults and writes to the current folder', () => {
    expect(parseCliArguments([])).toEqual({ inputs: {}, output: '.', quiet: false, help: false });
  });

  test('reads an empty mask as the reference behaviour and booleans', () => {
    expect(parseCliArguments(['--mask', '', '--harmonize', 'false']).inputs).toEqual({ mask: [], harmonize: false });
    expect(parseCliArguments(['--mask', '8,9']).inputs).toEqual({ mask: [8, 9] });
  });

  test('rejects unknown flags and malformed numbers', () => {
    expect(() => parseCliArguments(['--nope'])).toThrow(UsageError);
    expect(() => parseCliArguments(['--resolution', 'ten'])).toThrow(/--resolution must be a number/);
    expect(() => parseCliArguments(['--harmonize', 'maybe'])).toThrow(/--harmonize/);
  });
});
