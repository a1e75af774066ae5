/** The command line and the CWL application package, run against the local STAC fixture. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { syntheticDataDir } from './fixtures/sentinel2';
import { startStacFixture, type StacFixture } from './fixtures/stac-api';
import { validateCog } from './helpers/mosaic';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'cloudless-mosaic.js');

function mosaicFolders(folder: string): string[] {
  return readdirSync(folder).filter((name) => name.startsWith('monthly-mosaic-')).sort();
}

describe('cloudless-mosaic command line', () => {
  let stac: StacFixture;
  let aoi: string;

  beforeAll(async () => {
    const dataDir = await syntheticDataDir('tiny');
    aoi = JSON.parse(readFileSync(path.join(dataDir, 'manifest.json'), 'utf8')).aoi.join(',');
    stac = await startStacFixture({ dataDir, flavour: 'planetary-computer' });
  }, 120_000);
  afterAll(() => stac?.close());

  test('writes the reference layout with the reference flags', async () => {
    const output = mkdtempSync(path.join(tmpdir(), 'cli-out-'));
    const { stdout, stderr } = await run(process.execPath, [
      CLI, '--start-date', '2020-10-01', '--end-date', '2020-11-30', '--aoi', aoi,
      '--bands', 'nir', '--bands', 'red', '--bands', 'green', '--collection', 'sentinel-2-l2a',
      '--resolution', '20', '--max-items', '100', '--max-cloud-cover', '25', '--stac-api', stac.url, '--output', output,
    ]);
    expect(stdout.trim()).toBe(path.join(output, 'catalog.json'));
    expect(stderr).toMatch(/\[100%\]/);
    expect(mosaicFolders(output)).toEqual(['monthly-mosaic-2020-10', 'monthly-mosaic-2020-11']);
    expect(validateCog(path.join(output, 'monthly-mosaic-2020-10', 'monthly-mosaic-2020-10.tif'))).toMatch(/is a valid cloud optimized GeoTIFF/);
    expect(JSON.parse(readFileSync(path.join(output, 'catalog.json'), 'utf8')).id).toBe('monthly-mosaics');
  }, 120_000);

  test('exits non-zero, naming the flag, on bad input', async () => {
    const failure = await run(process.execPath, [CLI, '--bands', 'nope', '--stac-api', stac.url]).catch((error) => error);
    expect(failure.code).toBe(2);
    expect(failure.stderr).toMatch(/--bands: unknown band nope/);
  });

  test('exits non-zero when the search finds nothing (the reference exits 0)', async () => {
    const output = mkdtempSync(path.join(tmpdir(), 'cli-empty-'));
    const failure = await run(process.execPath, [
      CLI, '--start-date', '2019-01-01', '--end-date', '2019-01-31', '--aoi', aoi, '--stac-api', stac.url, '--output', output, '--quiet',
    ]).catch((error) => error);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/no sentinel-2-l2a scenes found/);
    expect(existsSync(path.join(output, 'catalog.json'))).toBe(false);
  });

  test('the CWL application package validates and runs with cwltool', async () => {
    const cwl = path.join(ROOT, 'cwl', 'cloudless-mosaic.cwl');
    await run('cwltool', ['--validate', cwl]);
    const binDir = mkdtempSync(path.join(tmpdir(), 'cwl-bin-'));
    symlinkSync(CLI, path.join(binDir, 'cloudless-mosaic'));
    const outdir = mkdtempSync(path.join(tmpdir(), 'cwl-out-'));
    const { stdout } = await run(
      'cwltool',
      ['--no-container', '--preserve-environment', 'PATH', '--outdir', outdir, cwl,
        `--aoi=${aoi}`, '--resolution', '20', '--end-date', '2020-10-31', '--stac_api', stac.url],
      { env: { ...process.env, PATH: `${binDir}:${path.dirname(process.execPath)}:${process.env.PATH}` }, maxBuffer: 1 << 24 },
    );
    const outputs = JSON.parse(stdout);
    const folder = outputs['stac-catalog'].path;
    expect(mosaicFolders(folder)).toEqual(['monthly-mosaic-2020-10']);
    expect(readdirSync(path.join(folder, 'monthly-mosaic-2020-10')).sort()).toEqual([
      'monthly-mosaic-2020-10-visual.tif', 'monthly-mosaic-2020-10.json', 'monthly-mosaic-2020-10.tif',
    ]);
  }, 180_000);
});
