import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessPlugin, RunContext } from '../src/ogc/process';
import { ProcessRegistry } from '../src/ogc/registry';
import { FileJobStore } from '../src/jobs/file-store';
import { newJobRecord, runJob, type RunJobDeps, type UnitMapper } from '../src/jobs/runner';
import type { JobRecord } from '../src/jobs/types';
import { temporaryDir } from './jobs-helpers';

const noUnits: UnitMapper = () => () => Promise.reject(new Error('this test has no units'));

function plugin(id: string, run: ProcessPlugin['run']): ProcessPlugin {
  return {
    description: { id, version: '1.0.0', jobControlOptions: ['async-execute'], outputTransmission: ['value'], inputs: {}, outputs: {} },
    run,
  };
}

describe('runJob', () => {
  let root: string;
  let removeRoot: () => Promise<void>;
  let store: FileJobStore;
  let progressWrites: number[];

  beforeEach(async () => {
    ({ dir: root, remove: removeRoot } = await temporaryDir('runner'));
    store = await FileJobStore.open(root);
    progressWrites = [];
    const update = store.update.bind(store);
    store.update = async (id, patch) => {
      const updated = await update(id, patch);
      if (updated) progressWrites.push(updated.progress);
      return updated;
    };
  });
  afterEach(() => removeRoot());

  async function run(plugins: ProcessPlugin[], processId: string, overrides: Partial<RunJobDeps> = {}): Promise<JobRecord | undefined> {
    const job = newJobRecord(processId, { inputs: { value: 21 }, response: 'document' });
    await store.create(job);
    return runJob(job, {
      store,
      registry: new ProcessRegistry(plugins, root),
      outputRoot: root,
      signal: new AbortController().signal,
      map: noUnits,
      progressIntervalMs: 40,
      ...overrides,
    });
  }

  it('stores the results of a successful run', async () => {
    const double = plugin('double', async (inputs, ctx) => {
      expect(ctx.jobId).toMatch(/^[0-9a-f-]{36}$/);
      expect(ctx.store.dir).toContain(ctx.jobId);
      return { doubled: (inputs.value as number) * 2 };
    });
    const record = await run([double], 'double');
    expect(record).toMatchObject({ status: 'successful', progress: 100, results: { doubled: 42 }, message: 'Job completed' });
    expect(record?.exception).toBeUndefined();
    expect(Date.parse(record!.started!)).toBeLessThanOrEqual(Date.parse(record!.finished!));
    expect(await store.get(record!.id)).toEqual(record);
  });

  it('marks the job running before the process starts', async () => {
    let seen: JobRecord | undefined;
    const probe = plugin('probe', async (_inputs, ctx) => {
      seen = await store.get(ctx.jobId);
      return {};
    });
    await run([probe], 'probe');
    expect(seen).toMatchObject({ status: 'running', message: 'Job running' });
    expect(seen?.started).toBeDefined();
  });

  it('stores an exception with type, title and detail when the process throws', async () => {
    const broken = plugin('broken', async (_inputs, ctx) => {
      ctx.progress(30);
      throw new Error('no scenes cover the area');
    });
    const record = await run([broken], 'broken');
    expect(record).toMatchObject({
      status: 'failed',
      progress: 30,
      message: 'Job failed: no scenes cover the area',
      exception: { type: 'NoApplicableCode', title: 'Process execution failed', detail: 'no scenes cover the area' },
    });
    expect(record?.results).toBeUndefined();
    expect(record?.finished).toBeDefined();
  });

  it('fails a job whose process is not available', async () => {
    const record = await run([], 'gone');
    expect(record).toMatchObject({ status: 'failed', exception: { detail: 'process gone is not available on this server' } });
  });

  it('writes progress throttled, never backwards, and always the final value', async () => {
    const jumpy = plugin('jumpy', async (_inputs, ctx: RunContext) => {
      for (const percent of [10, 50, 30, 70, 60, 80.4]) {
        ctx.progress(percent, `at ${percent}`);
        await sleep(50);
      }
      for (let percent = 81; percent <= 95; percent++) ctx.progress(percent);
      throw new Error('stopped at 95');
    });
    const record = await run([jumpy], 'jumpy');
    const sorted = [...progressWrites].sort((a, b) => a - b);
    expect(progressWrites).toEqual(sorted);
    expect(progressWrites).not.toContain(30);
    expect(progressWrites).not.toContain(60);
    // 15 synchronous reports coalesce into at most one write.
    expect(progressWrites.filter((percent) => percent > 80 && percent < 95).length).toBeLessThanOrEqual(1);
    expect(record?.progress).toBe(95);
  });

  it('writes nothing final when the run is aborted, and never overwrites a dismissal', async () => {
    const controller = new AbortController();
    const stubborn = plugin('stubborn', async (_inputs, ctx) => {
      await store.update(ctx.jobId, { status: 'dismissed', message: 'Job dismissed' });
      controller.abort(new Error('dismissed'));
      ctx.progress(50);
      return { ignored: true };
    });
    const record = await run([stubborn], 'stubborn', { signal: controller.signal });
    expect(record).toMatchObject({ status: 'dismissed', message: 'Job dismissed' });
    expect(record?.results).toBeUndefined();
    expect(record?.progress).toBe(0);
  });

  it('leaves an aborted run running for whoever aborted it', async () => {
    const controller = new AbortController();
    const waiting = plugin('waiting', (_inputs, ctx) => {
      setTimeout(() => controller.abort(new Error('shutting down')), 20);
      return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    });
    const record = await run([waiting], 'waiting', { signal: controller.signal });
    expect(record?.status).toBe('running');
    expect(record?.exception).toBeUndefined();
  });

  it('does not start a job that is already final', async () => {
    const job = newJobRecord('never', { inputs: {}, response: 'document' });
    await store.create({ ...job, status: 'dismissed' });
    const never = plugin('never', async () => {
      throw new Error('must not run');
    });
    const record = await runJob(job, {
      store,
      registry: new ProcessRegistry([never], root),
      outputRoot: root,
      signal: new AbortController().signal,
      map: noUnits,
    });
    expect(record?.status).toBe('dismissed');
    expect(record?.started).toBeUndefined();
  });

  it('gives the process the map of its backend', async () => {
    const requests: string[] = [];
    const mapper: UnitMapper = (request) => async (unit, payloads) => {
      requests.push(`${request.processId}/${unit}`);
      return payloads.map((payload) => `done ${String(payload)}`) as never;
    };
    const fanOut = plugin('fan-out', async (_inputs, ctx) => ({ parts: await ctx.map('part', [1, 2]) }));
    const record = await run([fanOut], 'fan-out', { map: mapper });
    expect(record?.results).toEqual({ parts: ['done 1', 'done 2'] });
    expect(requests).toEqual(['fan-out/part']);
  });
});
