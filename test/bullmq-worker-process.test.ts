import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { BullmqBackend } from '../src/jobs/bullmq-backend';
import { newJobRecord } from '../src/jobs/runner';
import type { JobRecord } from '../src/jobs/types';
import { ProcessRegistry } from '../src/ogc/registry';
import { BULLMQ_FIXTURE_PROCESSES, deleteKeys, TEST_REDIS_URL, uniquePrefix } from './bullmq-helpers';
import { eventually, temporaryDir } from './jobs-helpers';

const PROJECT_ROOT = path.resolve(__dirname, '..');

/** Stalled-job recovery takes up to lock (10 s) + check interval (5 s) per lost worker. */
jest.setTimeout(120_000);

describe('worker processes (npm run worker)', () => {
  const registry = ProcessRegistry.load(BULLMQ_FIXTURE_PROCESSES);
  let redis: Redis;
  let prefix: string;
  let outputDir: string;
  let removeOutputs: () => Promise<void>;
  let api: BullmqBackend;
  const children = new Set<ChildProcess>();

  /** Starts `node --import tsx src/worker.ts` and resolves once it reports ready. */
  const startWorkerProcess = (extraEnv: Record<string, string> = {}): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          REDIS_URL: TEST_REDIS_URL,
          QUEUE_PREFIX: prefix,
          PROCESSES_DIR: BULLMQ_FIXTURE_PROCESSES,
          OUTPUT_DIR: outputDir,
          WORKER_CONCURRENCY: '1',
          UNIT_CONCURRENCY: '1',
          ...extraEnv,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(' ready: ')) resolve(child);
      });
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code, signal) => {
        children.delete(child);
        reject(new Error(`worker exited (${code ?? signal}) before it was ready: ${output}`));
      });
    });

  const kill = (child: ChildProcess): Promise<void> =>
    new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

  const submitEcho = async (pause: number): Promise<JobRecord> => {
    const job = newJobRecord('echo', { inputs: { echoInput: 'survivor', pause }, response: 'document' });
    await api.store.create(job);
    await api.submit(job);
    return job;
  };

  const runningSince = async (id: string, after?: string): Promise<string | false> => {
    const record = await api.store.get(id);
    return record?.status === 'running' && record.started !== undefined && record.started !== after && record.started;
  };

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  beforeEach(async () => {
    prefix = uniquePrefix('procs');
    ({ dir: outputDir, remove: removeOutputs } = await temporaryDir('bullmq-procs'));
    api = await BullmqBackend.create({ registry, outputDir, redisUrl: TEST_REDIS_URL, prefix, workers: 0 });
  });

  afterEach(async () => {
    await Promise.all([...children].map(kill));
    await api.close();
    await deleteKeys(redis, prefix);
    await removeOutputs();
  });

  afterAll(async () => {
    await redis.quit();
  });

  it('hands the job of a worker killed mid-job to another worker, which finishes it', async () => {
    const first = await startWorkerProcess();
    const job = await submitEcho(3);
    const firstStart = await eventually(() => runningSince(job.id), 10_000);
    await startWorkerProcess();
    await kill(first);

    const final = await api.waitForFinal(job.id, AbortSignal.timeout(40_000));
    expect(final).toMatchObject({ status: 'successful', results: { echoInput: 'survivor' }, progress: 100 });
    expect(Date.parse(final.started!)).toBeGreaterThan(Date.parse(firstStart));
  });

  it('fails a job that keeps killing its workers, saying why, instead of leaving it running', async () => {
    const first = await startWorkerProcess();
    const job = await submitEcho(120);
    const firstStart = await eventually(() => runningSince(job.id), 10_000);
    const second = await startWorkerProcess();
    await kill(first);
    await eventually(() => runningSince(job.id, firstStart), 40_000);
    await startWorkerProcess();
    await kill(second);

    const final = await api.waitForFinal(job.id, AbortSignal.timeout(40_000));
    expect(final.status).toBe('failed');
    expect(final.message).toMatch(/worker running the job stopped .* 2 times/);
    expect(final.exception?.detail).toMatch(/not retried again/);
  });

  it('returns its running job to the queue on SIGTERM, for another worker to run', async () => {
    const first = await startWorkerProcess({ SHUTDOWN_GRACE_MS: '1000' });
    const job = await submitEcho(4);
    const firstStart = await eventually(() => runningSince(job.id), 10_000);
    await startWorkerProcess();
    const exited = new Promise<number | null>((resolve) => first.once('exit', (code) => resolve(code)));
    first.kill('SIGTERM');
    // The grace (1 s) ends before the 4 s pause does: the job goes back to the queue, without a stall.
    expect(await exited).toBe(0);
    const final = await api.waitForFinal(job.id, AbortSignal.timeout(30_000));
    expect(final.status).toBe('successful');
    expect(Date.parse(final.started!)).toBeGreaterThan(Date.parse(firstStart));
  });
});
