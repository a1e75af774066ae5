/**
 * How cloudless-mosaic's run writes months while other months still composite: run directly with a hand-made
 * RunContext whose `map` runs the units one after another in this thread, so the order of events is observable.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cloudlessMosaic from '../processes/cloudless-mosaic';
import { jobOutputStore } from '../src/jobs/output-store';
import type { RunContext } from '../src/ogc/process';
import { syntheticDataDir } from './fixtures/sentinel2';
import { startStacFixture, type StacFixture } from './fixtures/stac-api';

let stac: StacFixture;
let aoi: number[];
let root: string;

beforeAll(async () => {
  const dataDir = await syntheticDataDir('tiny');
  aoi = JSON.parse(readFileSync(path.join(dataDir, 'manifest.json'), 'utf8')).aoi;
  stac = await startStacFixture({ dataDir, flavour: 'planetary-computer' });
  root = await mkdtemp(path.join(tmpdir(), 'mosaic-month-writes-'));
});

afterAll(async () => {
  await stac.close();
  await rm(root, { recursive: true, force: true });
});

function inputs(): Record<string, unknown> {
  return {
    'start-date': '2020-10-01', 'end-date': '2020-12-31', aoi: aoi.join(','), bands: ['nir', 'red', 'green'],
    collection: 'sentinel-2-l2a', resolution: 10, max_items: 1000, max_cloud_cover: 25, stac_api: stac.url,
    mask: [0, 1, 3, 8, 9, 10], harmonize: true,
  };
}

/**
 * A context whose units run in order in this thread; `events` records units and progress messages. `onPath` sees
 * every job-folder path the run asks for, with the job's abort controller (to dismiss at a chosen point).
 */
function sequentialContext(jobId: string, onPath?: (relative: string, controller: AbortController) => void) {
  const controller = new AbortController();
  const events: string[] = [];
  let unitsRun = 0;
  const folder = jobOutputStore(root, jobId);
  const store = {
    ...folder,
    path(relative: string) {
      onPath?.(relative, controller);
      return folder.path(relative);
    },
  };
  const ctx: RunContext = {
    jobId,
    signal: controller.signal,
    store,
    progress: (_percent, message) => events.push(`progress ${message}`),
    async map<P, R>(unit: string, payloads: P[], onUnitDone?: (index: number, result: R) => void) {
      const results: R[] = [];
      for (const [index, payload] of payloads.entries()) {
        controller.signal.throwIfAborted();
        results[index] = (await cloudlessMosaic.units![unit](payload, { jobId, signal: controller.signal, store })) as R;
        unitsRun++;
        events.push(`unit ${(payload as { month: string }).month}`);
        onUnitDone?.(index, results[index]);
        // Let a month write that has started make progress, as it would beside units on other threads.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return results;
    },
  };
  return { ctx, events, store, unitsRun: () => unitsRun };
}

const monthFolders = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('monthly-mosaic-')) : []);

test('a month is written as soon as its units are done, before the last month has composited', async () => {
  const { ctx, events } = sequentialContext('in-order');
  await cloudlessMosaic.run(inputs(), ctx);
  const wroteOctober = events.indexOf('progress wrote monthly-mosaic-2020-10');
  const lastDecemberUnit = events.lastIndexOf('unit 2020-12');
  expect(wroteOctober).toBeGreaterThan(events.lastIndexOf('unit 2020-10'));
  expect(wroteOctober).toBeLessThan(lastDecemberUnit);
  expect(events.filter((event) => event.startsWith('progress wrote'))).toEqual([
    'progress wrote monthly-mosaic-2020-10',
    'progress wrote monthly-mosaic-2020-11',
    'progress wrote monthly-mosaic-2020-12',
  ]);
});

test('a month that cannot be written fails the run without compositing the remaining units', async () => {
  const { ctx, store, unitsRun } = sequentialContext('write-fails');
  // A file where October's folder goes: its write fails at mkdir.
  mkdirSync(store.dir, { recursive: true });
  writeFileSync(path.join(store.dir, 'monthly-mosaic-2020-10'), 'in the way');
  const units = await countUnits();
  await expect(cloudlessMosaic.run(inputs(), ctx)).rejects.toThrow(/EEXIST|ENOTDIR/);
  expect(unitsRun()).toBeLessThan(units);
  expect(existsSync(store.path('catalog.json'))).toBe(false);
});

test('a dismissal while a month is being written stops the write and leaves no file of it', async () => {
  const { ctx, store } = sequentialContext('dismissed', (relative, controller) => {
    // Dismissed just as October's data COG is about to be written: the writer must stop at its first tile.
    if (relative === 'monthly-mosaic-2020-10/monthly-mosaic-2020-10.tif' && !controller.signal.aborted) controller.abort(new Error('dismissed'));
  });
  await expect(cloudlessMosaic.run(inputs(), ctx)).rejects.toThrow('dismissed');
  expect(ctx.signal.aborted).toBe(true);
  expect(monthFolders(store.dir)).toEqual(['monthly-mosaic-2020-10']);
  expect(readdirSync(store.path('monthly-mosaic-2020-10'))).toEqual([]);
  expect(existsSync(store.path('catalog.json'))).toBe(false);
});

async function countUnits(): Promise<number> {
  const { ctx, unitsRun } = sequentialContext('count');
  await cloudlessMosaic.run(inputs(), ctx);
  return unitsRun();
}
