import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessRegistry } from '../src/ogc/registry';
import { EmbeddedBackend } from '../src/jobs/embedded-backend';
import { createBackend } from '../src/jobs';
import { newJobRecord } from '../src/jobs/runner';
import type { JobRecord, StoredExecuteRequest } from '../src/jobs/types';
import { FIXTURE_PROCESSES, eventually, temporaryDir } from './jobs-helpers';

const echoRequest = (echoInput: string, pause = 0): StoredExecuteRequest => ({ inputs: { echoInput, pause }, response: 'document' });

describe('EmbeddedBackend', () => {
  const registry = ProcessRegistry.load();
  let root: string;
  let removeRoot: () => Promise<void>;
  const backends: EmbeddedBackend[] = [];

  const open = async (options: { concurrency?: number; registry?: ProcessRegistry } = {}) => {
    const backend = await EmbeddedBackend.create({
      registry: options.registry ?? registry,
      outputDir: path.join(root, 'output'),
      dataDir: path.join(root, 'data'),
      concurrency: options.concurrency,
      unitThreads: 2,
      progressIntervalMs: 50,
    });
    backends.push(backend);
    return backend;
  };

  const submit = async (backend: EmbeddedBackend, processId: string, request: StoredExecuteRequest): Promise<JobRecord> => {
    const job = newJobRecord(processId, request);
    await backend.store.create(job);
    await backend.submit(job);
    return job;
  };

  const statusOf = async (backend: EmbeddedBackend, id: string) => (await backend.store.get(id))?.status;

  beforeEach(async () => {
    ({ dir: root, remove: removeRoot } = await temporaryDir('embedded-backend'));
  });

  afterEach(async () => {
    await Promise.all(backends.splice(0).map((backend) => backend.close()));
    await removeRoot();
  });

  it('runs echo end to end', async () => {
    const backend = await open();
    const job = await submit(backend, 'echo', echoRequest('hello', 0.2));
    const final = await backend.waitForFinal(job.id);
    expect(final).toMatchObject({ status: 'successful', progress: 100, results: { echoInput: 'hello' } });
    expect(Date.parse(final.started!)).toBeLessThanOrEqual(Date.parse(final.finished!));
    // Asking again once final answers at once.
    await expect(backend.waitForFinal(job.id)).resolves.toMatchObject({ status: 'successful' });
  });

  it('runs at most `concurrency` jobs at a time', async () => {
    const backend = await open({ concurrency: 1 });
    const first = await submit(backend, 'echo', echoRequest('first', 0.3));
    const second = await submit(backend, 'echo', echoRequest('second'));
    await eventually(async () => (await statusOf(backend, first.id)) === 'running');
    expect(await statusOf(backend, second.id)).toBe('accepted');
    const [a, b] = await Promise.all([backend.waitForFinal(first.id), backend.waitForFinal(second.id)]);
    expect(Date.parse(b.started!)).toBeGreaterThanOrEqual(Date.parse(a.finished!));
  });

  it('never starts a queued job that was dismissed', async () => {
    const backend = await open({ concurrency: 1 });
    const blocker = await submit(backend, 'echo', echoRequest('blocker', 0.5));
    const queued = await submit(backend, 'echo', echoRequest('queued'));
    const dismissed = await backend.dismiss(queued.id);
    expect(dismissed).toMatchObject({ status: 'dismissed', progress: 0 });
    await backend.waitForFinal(blocker.id);
    await sleep(200);
    const record = await backend.store.get(queued.id);
    expect(record).toMatchObject({ status: 'dismissed' });
    expect(record?.started).toBeUndefined();
  });

  it('dismisses a running job within 2 s, removes its outputs and keeps its progress', async () => {
    const backend = await open();
    const job = await submit(backend, 'echo', echoRequest('long', 30));
    const outputFolder = path.join(root, 'output', job.id);
    await mkdir(outputFolder, { recursive: true });
    await writeFile(path.join(outputFolder, 'partial.txt'), 'partial');
    await eventually(async () => ((await backend.store.get(job.id))?.progress ?? 0) > 0);
    const waiting = backend.waitForFinal(job.id);

    const dismissedAt = Date.now();
    const dismissed = await backend.dismiss(job.id);
    expect(Date.now() - dismissedAt).toBeLessThan(2_000);
    expect(dismissed?.status).toBe('dismissed');
    expect(dismissed?.progress).toBeGreaterThan(0);
    expect(existsSync(outputFolder)).toBe(false);
    await expect(waiting).resolves.toMatchObject({ status: 'dismissed' });
    // The aborted run does not overwrite the dismissal later.
    await sleep(300);
    expect(await statusOf(backend, job.id)).toBe('dismissed');
  });

  it('answers undefined when dismissing an unknown job and rejects waiting for it', async () => {
    const backend = await open();
    await expect(backend.dismiss('no-such-job')).resolves.toBeUndefined();
    await expect(backend.waitForFinal('no-such-job')).rejects.toThrow('no job no-such-job');
  });

  it('stops waiting when the wait is aborted', async () => {
    const backend = await open();
    const job = await submit(backend, 'echo', echoRequest('slow', 5));
    const controller = new AbortController();
    const waiting = backend.waitForFinal(job.id, controller.signal);
    controller.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
  });

  it('re-runs a job that a restart interrupted, and the queued ones', async () => {
    const first = await open({ concurrency: 1 });
    const interrupted = await submit(first, 'echo', echoRequest('interrupted', 1));
    const queued = await submit(first, 'echo', echoRequest('queued'));
    await eventually(async () => (await statusOf(first, interrupted.id)) === 'running');
    await first.close();
    expect(await statusOf(first, interrupted.id)).toBe('running');
    expect(await statusOf(first, queued.id)).toBe('accepted');

    const second = await open({ concurrency: 1 });
    await expect(second.waitForFinal(interrupted.id)).resolves.toMatchObject({
      status: 'successful',
      results: { echoInput: 'interrupted' },
    });
    await expect(second.waitForFinal(queued.id)).resolves.toMatchObject({ status: 'successful', results: { echoInput: 'queued' } });
  });

  it('refuses a second backend on the same data folder until the first is closed', async () => {
    const first = await open();
    await expect(open()).rejects.toThrow('is in use by another embedded job backend');
    await first.close();
    await expect(open()).resolves.toBeInstanceOf(EmbeddedBackend);
  });

  it('takes over the lock of a process that is gone', async () => {
    await mkdir(path.join(root, 'data'), { recursive: true });
    // Pids are below 2^22 on Linux: this one cannot be alive.
    await writeFile(path.join(root, 'data', 'embedded-backend.lock'), String(2 ** 30));
    await expect(open()).resolves.toBeInstanceOf(EmbeddedBackend);
  });

  it('is what createBackend gives without a Redis URL', async () => {
    const backend = await createBackend({ registry, outputDir: path.join(root, 'output'), dataDir: path.join(root, 'data') });
    try {
      expect(backend).toBeInstanceOf(EmbeddedBackend);
      const job = newJobRecord('echo', echoRequest('via createBackend'));
      await backend.store.create(job);
      await backend.submit(job);
      await expect(backend.waitForFinal(job.id)).resolves.toMatchObject({ results: { echoInput: 'via createBackend' } });
    } finally {
      await backend.close();
    }
  });

  it('fans out units on worker threads and fails the job when a unit fails', async () => {
    const backend = await open({ registry: ProcessRegistry.load(FIXTURE_PROCESSES) });
    const good = await submit(backend, 'units-demo', { inputs: { mode: 'square', values: [1, 2, 3, 4, 5] }, response: 'document' });
    await expect(backend.waitForFinal(good.id)).resolves.toMatchObject({
      status: 'successful',
      progress: 100,
      results: { squares: [1, 4, 9, 16, 25] },
    });
    const bad = await submit(backend, 'units-demo', { inputs: { mode: 'square', values: [1, 2, 3], failAt: 1 }, response: 'document' });
    await expect(backend.waitForFinal(bad.id)).resolves.toMatchObject({
      status: 'failed',
      exception: { type: 'NoApplicableCode', detail: 'unit failed on value 2' },
    });
  });

  it('dismisses a job whose unit busy-loops on a worker thread within 2 s', async () => {
    const backend = await open({ registry: ProcessRegistry.load(FIXTURE_PROCESSES) });
    const job = await submit(backend, 'units-demo', { inputs: { mode: 'spin' }, response: 'document' });
    const heartbeat = path.join(root, 'output', job.id, 'heartbeat');
    await eventually(() => existsSync(heartbeat));

    const dismissedAt = Date.now();
    await expect(backend.dismiss(job.id)).resolves.toMatchObject({ status: 'dismissed' });
    expect(Date.now() - dismissedAt).toBeLessThan(2_000);
    // A unit still running would write its heartbeat again into the removed folder.
    await sleep(300);
    expect(existsSync(path.dirname(heartbeat))).toBe(false);
  });
});
