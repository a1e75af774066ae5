/** cloudless-mosaic through the OGC API: input validation, STAC API behaviours, dismiss, and both backends. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { executeAsync, readWithGdal, runMosaic, startMosaicWorld, waitForJob, type MosaicWorld } from './helpers/mosaic';

const INVALID_INPUTS: [string, Record<string, unknown>][] = [
  ['start-date', { 'start-date': '2020-13-01' }],
  ['start-date', { 'start-date': '2020-02-30' }],
  ['end-date', { 'start-date': '2020-12-01', 'end-date': '2020-11-01' }],
  ['aoi', { aoi: '1,2,3' }],
  ['aoi', { aoi: '10,50,5,55' }],
  ['aoi', { aoi: '-200,47,-199,48' }],
  ['aoi', { aoi: { bbox: [0, 95, 1, 96] } }],
  ['bands', { bands: ['nir', 'infrared'] }],
  ['resolution', { resolution: 0 }],
  ['resolution', { resolution: -10 }],
  ['resolution', { resolution: 1, aoi: '-122.5,47.0,-121.0,48.5' }],
  ['stac_api', { stac_api: 'https://stac.example.com/v1' }],
  ['crs', { crs: 2154 }],
  ['max_items', { max_items: 0 }],
  ['mask', { mask: [12] }],
];

describe('cloudless-mosaic input validation', () => {
  let world: MosaicWorld;
  beforeAll(async () => {
    world = await startMosaicWorld('tiny', 'embedded');
  }, 120_000);
  afterAll(() => world?.close());

  test.each(INVALID_INPUTS)('bad %s → 400 naming it, before any job is queued', async (input, inputs) => {
    const before = await (await fetch(`${world.server.baseUrl}/jobs?limit=1000`)).json() as any;
    const { status, body } = await executeAsync(world.server, { stac_api: world.stac.url, ...inputs });
    expect(status).toBe(400);
    expect(body.type).toMatch(/InvalidParameterValue$/);
    expect(body.detail).toContain(input);
    const after = await (await fetch(`${world.server.baseUrl}/jobs?limit=1000`)).json() as any;
    expect(after.jobs.length).toBe(before.jobs.length);
  });

  test('a search that finds nothing fails the job with a message saying so', async () => {
    const { status } = await runMosaic(world, { 'start-date': '2019-01-01', 'end-date': '2019-01-31' });
    expect(status.status).toBe('failed');
    expect(status.message).toMatch(/no sentinel-2-l2a scenes found/);
  });

  test('the OGC bbox form of the aoi gives the same mosaic as the string form', async () => {
    const asString = await runMosaic(world, { 'end-date': '2020-10-31' });
    const asBbox = await runMosaic(world, { 'end-date': '2020-10-31', aoi: { bbox: world.aoi } });
    const file = (folder: string) => path.join(folder, 'monthly-mosaic-2020-10', 'monthly-mosaic-2020-10.tif');
    expect(readWithGdal(file(asBbox.folder)).bands).toEqual(readWithGdal(file(asString.folder)).bands);
  });
});

function monthPixels(folder: string, month = '2020-10'): Uint16Array[] {
  return readWithGdal(path.join(folder, `monthly-mosaic-${month}`, `monthly-mosaic-${month}.tif`)).bands;
}

describe('cloudless-mosaic against STAC APIs that behave like the real ones', () => {
  let reference: Uint16Array[];
  beforeAll(async () => {
    const world = await startMosaicWorld('tiny', 'embedded');
    const run = await runMosaic(world, { 'end-date': '2020-10-31', resolution: 20 });
    reference = monthPixels(run.folder);
    await world.close();
  }, 120_000);

  afterEach(() => {
    delete process.env.STAC_TOKEN_ENDPOINT;
  });

  test('signs asset hrefs with a SAS token when the API needs it (unsigned reads are refused)', async () => {
    const world = await startMosaicWorld('tiny', 'embedded', { requireToken: true });
    try {
      process.env.STAC_TOKEN_ENDPOINT = world.stac.tokenEndpoint;
      const run = await runMosaic(world, { 'end-date': '2020-10-31', resolution: 20 });
      expect(run.status.status).toBe('successful');
      expect(world.stac.counters.tokenRequests).toBe(1);
      expect(monthPixels(run.folder)).toEqual(reference);
    } finally {
      await world.close();
    }
  });

  test('without signing the same fixture refuses the reads and the job fails clearly', async () => {
    const world = await startMosaicWorld('tiny', 'embedded', { requireToken: true });
    try {
      const run = await runMosaic(world, { 'end-date': '2020-10-31', resolution: 20 });
      expect(run.status.status).toBe('failed');
      expect(run.status.message).toMatch(/403/);
      expect(existsSync(path.join(run.folder, 'catalog.json'))).toBe(false);
    } finally {
      await world.close();
    }
  });

  test('Earth Search-shaped items (asset keys, raster:bands offsets) give the same reflectance', async () => {
    const world = await startMosaicWorld('tiny', 'embedded', { flavour: 'earth-search' });
    try {
      const run = await runMosaic(world, { 'end-date': '2020-10-31', resolution: 20 });
      expect(run.status.status).toBe('successful');
      expect(monthPixels(run.folder)).toEqual(reference);
    } finally {
      await world.close();
    }
  });

  test('a 429 with Retry-After from the search is waited out, then the job succeeds', async () => {
    const world = await startMosaicWorld('tiny', 'embedded', { failFirst: { status: 429, retryAfter: 1 } });
    try {
      const run = await runMosaic(world, { 'end-date': '2020-10-31', resolution: 20 });
      expect(run.status.status).toBe('successful');
      expect(world.stac.counters.faultsInjected).toBe(1);
      expect(monthPixels(run.folder)).toEqual(reference);
    } finally {
      await world.close();
    }
  });

  test('paging through many pages finds every scene', async () => {
    const world = await startMosaicWorld('tiny', 'embedded', { pageSize: 1 });
    try {
      const run = await runMosaic(world, { resolution: 20 });
      const item = JSON.parse(readFileSync(path.join(run.folder, 'monthly-mosaic-2020-12', 'monthly-mosaic-2020-12.json'), 'utf8'));
      expect(item.properties['mosaic:sources'].length).toBeGreaterThan(0);
      expect(world.stac.counters.searchRequests).toBeGreaterThanOrEqual(5);
      expect(monthPixels(run.folder)).toEqual(reference);
    } finally {
      await world.close();
    }
  });
});

describe.each(['embedded', 'bullmq'] as const)('cloudless-mosaic jobs (%s backend)', (backend) => {
  let world: MosaicWorld;
  beforeAll(async () => {
    world = await startMosaicWorld('small', backend);
  }, 300_000);
  afterAll(() => world?.close());

  test('runs the fan-out to completion with progress and a results link', async () => {
    const run = await runMosaic(world, { resolution: 60 });
    expect(run.status.status).toBe('successful');
    expect(run.status.progress).toBe(100);
    const results = await (await fetch(`${run.jobUrl}/results`)).json() as any;
    const catalogResponse = await fetch(results['stac-catalog'].href);
    expect(catalogResponse.headers.get('content-type')).toMatch(/application\/json/);
    const item = JSON.parse(readFileSync(path.join(run.folder, 'monthly-mosaic-2020-11', 'monthly-mosaic-2020-11.json'), 'utf8'));
    const cog = await fetch(new URL(`monthly-mosaic-2020-11/${item.assets.data.href.replace('./', '')}`, results['stac-catalog'].href), { headers: { range: 'bytes=0-15' } });
    expect(cog.status).toBe(206);
    expect(cog.headers.get('content-type')).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
    expect(cog.headers.get('accept-ranges')).toBe('bytes');
  }, 120_000);

  test('dismissing a running job stops it and removes its outputs', async () => {
    const { jobUrl } = await executeAsync(world.server, { stac_api: world.stac.url, aoi: world.aoi.join(','), resolution: 10 });
    const jobId = jobUrl.split('/').pop()!;
    const deadline = Date.now() + 60_000;
    let status: any;
    do {
      status = await (await fetch(jobUrl)).json();
      await new Promise((resolve) => setTimeout(resolve, 100));
    } while (!(status.progress > 5) && status.status !== 'successful' && Date.now() < deadline);
    expect(status.status).toBe('running');
    const dismissed = await fetch(jobUrl, { method: 'DELETE' });
    expect(dismissed.status).toBe(200);
    expect(((await dismissed.json()) as any).status).toBe('dismissed');
    const final = await waitForJob(jobUrl);
    expect(final.status).toBe('dismissed');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(existsSync(path.join(world.server.outputDir, jobId))).toBe(false);
  }, 120_000);
});
