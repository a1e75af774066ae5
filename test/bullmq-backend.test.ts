import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BullmqBackend, JOBS_QUEUE, UNITS_QUEUE } from '../src/jobs/bullmq-backend';
import { newJobRecord } from '../src/jobs/runner';
import type { JobRecord, StoredExecuteRequest } from '../src/jobs/types';
import { ProcessRegistry } from '../src/ogc/registry';
import { startWorker, type RunningWorker } from '../src/worker';
import { BULLMQ_FIXTURE_PROCESSES, deleteKeys, TEST_REDIS_URL, uniquePrefix } from './bullmq-helpers';
import { eventually, temporaryDir } from './jobs-helpers';

const echoRequest = (echoInput: string, pause = 0): StoredExecuteRequest => ({ inputs: { echoInput, pause }, response: 'document' });
const fanoutRequest = (inputs: Record<string, unknown>): StoredExecuteRequest => ({ inputs, response: 'document' });

describe('BullmqBackend', () => {
  const registry = ProcessRegistry.load(BULLMQ_FIXTURE_PROCESSES);
  let redis: Redis;
  let prefix: string;
  let outputDir: string;
  let removeOutputs: () => Promise<void>;
  const closers: Array<() => Promise<void>> = [];

  const openBackend = async (workers: number): Promise<BullmqBackend> => {
    const backend = await BullmqBackend.create({ registry, outputDir, redisUrl: TEST_REDIS_URL, prefix, workers, shutdownGraceMs: 300 });
    closers.push(() => backend.close());
    return backend;
  };

  const openWorker = async (concurrency = 2): Promise<RunningWorker> => {
    const worker = await startWorker({ registry, outputDir, redisUrl: TEST_REDIS_URL, prefix, concurrency, unitConcurrency: 2, progressIntervalMs: 50 });
    closers.push(() => worker.close(300));
    return worker;
  };

  const submit = async (backend: BullmqBackend, processId: string, request: StoredExecuteRequest): Promise<JobRecord> => {
    const job = newJobRecord(processId, request);
    await backend.store.create(job);
    await backend.submit(job);
    return job;
  };

  const queueOf = (name: string): Queue => {
    const queue = new Queue(name, { connection: redis, prefix });
    closers.push(() => queue.close());
    return queue;
  };

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  });

  beforeEach(async () => {
    prefix = uniquePrefix('backend');
    ({ dir: outputDir, remove: removeOutputs } = await temporaryDir('bullmq-outputs'));
  });

  afterEach(async () => {
    while (closers.length > 0) await closers.pop()!();
    await deleteKeys(redis, prefix);
    await removeOutputs();
  });

  afterAll(async () => {
    await redis.quit();
  });

  it('runs echo end to end on the in-process worker', async () => {
    const backend = await openBackend(2);
    const job = await submit(backend, 'echo', echoRequest('hello', 0.2));
    const final = await backend.waitForFinal(job.id);
    expect(final).toMatchObject({ id: job.id, status: 'successful', progress: 100, results: { echoInput: 'hello' } });
    expect(final.started).toBeDefined();
    expect(final.finished).toBeDefined();
    const listed = await backend.store.list({ statuses: ['successful'], processIds: ['echo'], offset: 0, limit: 10 });
    expect(listed.jobs.map((record) => record.id)).toEqual([job.id]);
  });

  it('hands jobs to a separate worker when the API runs none, and resolves waits through status events', async () => {
    const api = await openBackend(0);
    await openWorker(4);
    const jobs = await Promise.all(Array.from({ length: 20 }, (_, index) => submit(api, 'echo', echoRequest(`n${index}`))));
    const finals = await Promise.all(jobs.map((job) => api.waitForFinal(job.id)));
    expect(finals.map((record) => record.results?.echoInput)).toEqual(jobs.map((_, index) => `n${index}`));
    expect(finals.every((record) => record.status === 'successful')).toBe(true);
  });

  it('stops waiting when the caller aborts, and rejects a wait for an unknown job', async () => {
    const api = await openBackend(0);
    const job = await submit(api, 'echo', echoRequest('never run'));
    const controller = new AbortController();
    const waiting = api.waitForFinal(job.id, controller.signal);
    controller.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    await expect(api.waitForFinal('no-such-job')).rejects.toThrow('no job no-such-job');
  });

  it('dismisses a queued job so that it never starts', async () => {
    const api = await openBackend(0);
    const job = await submit(api, 'echo', echoRequest('queued'));
    const dismissed = await api.dismiss(job.id);
    expect(dismissed).toMatchObject({ status: 'dismissed', message: 'Job dismissed' });
    expect(await queueOf(JOBS_QUEUE).getJob(job.id)).toBeUndefined();
    // A later job proves a worker is running; the dismissed one must still never have started.
    await openWorker();
    const later = await submit(api, 'echo', echoRequest('later'));
    await api.waitForFinal(later.id);
    const record = await api.store.get(job.id);
    expect(record?.status).toBe('dismissed');
    expect(record?.started).toBeUndefined();
    expect(await api.waitForFinal(job.id)).toMatchObject({ status: 'dismissed' });
  });

  it('skips a dismissed job whose queue entry a worker already took', async () => {
    const api = await openBackend(0);
    const job = await submit(api, 'echo', echoRequest('raced'));
    // Dismissed in the store only: the worker must check the record when the job starts.
    await api.store.update(job.id, { status: 'dismissed' });
    await openWorker();
    await eventually(async () => (await queueOf(JOBS_QUEUE).getJobState(job.id)) === 'completed');
    expect((await api.store.get(job.id))?.started).toBeUndefined();
  });

  it('aborts a running job within 2 s on dismiss and removes its outputs', async () => {
    const api = await openBackend(0);
    await openWorker();
    const job = await submit(api, 'echo', echoRequest('long', 60));
    await eventually(async () => (await api.store.get(job.id))?.status === 'running');
    const jobDir = path.join(outputDir, job.id);
    await mkdir(jobDir, { recursive: true });
    await writeFile(path.join(jobDir, 'partial.txt'), 'partial');

    const dismissedAt = Date.now();
    const dismissed = await api.dismiss(job.id);
    expect(dismissed?.status).toBe('dismissed');
    const jobs = queueOf(JOBS_QUEUE);
    await eventually(async () => (await jobs.getJobState(job.id)) === 'completed', 2000);
    expect(Date.now() - dismissedAt).toBeLessThan(2000);
    expect(existsSync(jobDir)).toBe(false);
    const record = await api.store.get(job.id);
    expect(record).toMatchObject({ status: 'dismissed', message: 'Job dismissed' });
    expect(record?.progress).toBeLessThan(100);
  });

  it('keeps queued and running jobs across an API restart', async () => {
    const first = await openBackend(1);
    const running = await submit(first, 'echo', echoRequest('running', 1.5));
    await eventually(async () => (await first.store.get(running.id))?.status === 'running');
    const queued = await submit(first, 'echo', echoRequest('queued'));
    await first.close();

    const second = await openBackend(1);
    const listed = await second.store.list({ processIds: ['echo'], offset: 0, limit: 10 });
    expect(listed.jobs.map((record) => record.id).sort()).toEqual([running.id, queued.id].sort());
    const finals = await Promise.all([running, queued].map((job) => second.waitForFinal(job.id)));
    expect(finals.map((record) => [record.status, record.results?.echoInput])).toEqual([
      ['successful', 'running'],
      ['successful', 'queued'],
    ]);
  });

  describe('fan-out', () => {
    it('runs units on the units queue and returns their results in payload order', async () => {
      const api = await openBackend(0);
      await openWorker();
      await openWorker();
      const values = Array.from({ length: 12 }, (_, index) => index - 3);
      const job = await submit(api, 'fanout-test-bullmq', fanoutRequest({ mode: 'square', values }));
      const final = await api.waitForFinal(job.id);
      expect(final.status).toBe('successful');
      expect(final.results).toEqual({ squares: values.map((value) => value * value) });
      expect(final.progress).toBe(100);
      const completedUnits = await queueOf(UNITS_QUEUE).getJobCounts('completed');
      expect(completedUnits.completed).toBe(values.length);
    });

    it('fails the job on the first failed unit', async () => {
      const api = await openBackend(0);
      await openWorker();
      const job = await submit(api, 'fanout-test-bullmq', fanoutRequest({ mode: 'square', values: [1, 2, 3, 4, 5, 6], failAt: 2 }));
      const final = await api.waitForFinal(job.id);
      expect(final.status).toBe('failed');
      expect(final.exception?.detail).toContain('unit failed on value 3');
    });

    it('aborts running units and removes pending ones when the job is dismissed', async () => {
      const api = await openBackend(0);
      await openWorker();
      const job = await submit(api, 'fanout-test-bullmq', fanoutRequest({ mode: 'spin', spinners: 4 }));
      const units = queueOf(UNITS_QUEUE);
      // Two unit slots per worker: two spinners run, two wait.
      await eventually(async () => (await units.getJobCounts('active')).active === 2, 15_000);
      const heartbeat = path.join(outputDir, job.id, 'heartbeat-0');
      await eventually(() => existsSync(heartbeat) || existsSync(path.join(outputDir, job.id, 'heartbeat-1')));

      await api.dismiss(job.id);
      await eventually(async () => {
        const counts = await units.getJobCounts('active', 'waiting');
        return counts.active === 0 && counts.waiting === 0;
      }, 2000);
      await eventually(() => !existsSync(path.join(outputDir, job.id)), 2000);
      await sleep(300);
      expect(existsSync(path.join(outputDir, job.id))).toBe(false);
      expect((await api.store.get(job.id))?.status).toBe('dismissed');
    });
  });
});
