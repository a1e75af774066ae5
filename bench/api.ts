/**
 * `npm run bench:api` (npx tsx bench/api.ts): HTTP throughput of the API on 127.0.0.1, per job backend.
 *
 * For each mode the server runs as child process(es) (`src/main.ts`, or a Node cluster of them) so the load
 * generator does not share its event loop. Each mode measures, with `--connections` keep-alive connections for
 * `--duration` seconds each: GET /processes, GET /jobs/{id}, async POST /processes/echo/execution
 * (Prefer: respond-async), then waits (bounded) for every submitted echo job and reports submit-to-successful
 * times and the jobs lost (submitted but not found successful). With Redis it also fills `--list-jobs` job
 * records and times listing 20 of them, through the store and through GET /jobs.
 *
 * Options: --modes embedded,bullmq-inproc,bullmq-worker,bullmq-cluster  --duration 5  --connections 32
 *          --list-jobs 100000  --redis redis://127.0.0.1:6379/6
 */
import { spawn, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { deleteKeys } from '../test/bullmq-helpers';
import { loadConfig } from '../src/config';
import { startServer } from '../src/http/server';
import { RedisJobStore } from '../src/jobs/redis-store';
import type { JobFilter, JobRecord, JobStatus } from '../src/jobs/types';

const PROJECT_ROOT = path.resolve(__dirname, '..');
const MODES = ['embedded', 'bullmq-inproc', 'bullmq-worker', 'bullmq-cluster'] as const;
type Mode = (typeof MODES)[number];

interface Options {
  modes: Mode[];
  durationMs: number;
  connections: number;
  listJobs: number;
  redisUrl: string;
  drainTimeoutMs: number;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const modes = (value('modes') ?? MODES.join(',')).split(',').map((mode) => mode.trim());
  for (const mode of modes) if (!(MODES as readonly string[]).includes(mode)) throw new Error(`unknown mode ${mode}; known: ${MODES.join(', ')}`);
  return {
    modes: modes as Mode[],
    durationMs: Number(value('duration') ?? 5) * 1000,
    connections: Number(value('connections') ?? 32),
    listJobs: Number(value('list-jobs') ?? 100_000),
    redisUrl: value('redis') ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/6',
    drainTimeoutMs: Number(value('drain-timeout') ?? 60) * 1000,
  };
}

// ---------------------------------------------------------------- load generator

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

class HttpClient {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: URL,
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  send(method: string, pathname: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          agent: this.agent,
          host: this.baseUrl.hostname,
          port: this.baseUrl.port,
          method,
          path: pathname,
          headers: {
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
            ...headers,
          },
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString() }));
          incoming.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/** `connections` loops, each sending one request after the other until the duration is over. */
async function load(connections: number, durationMs: number, send: () => Promise<boolean>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const before = performance.now();
        const ok = await send().catch(() => false);
        latencies.push(performance.now() - before);
        if (!ok) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, errors, perSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
}

const format = (result: LoadResult): string =>
  `${result.perSecond.toFixed(0).padStart(6)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  (${result.requests} requests, ${result.errors} errors)`;

// ---------------------------------------------------------------- servers

interface Deployment {
  url: URL;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Starts a child process and resolves when a line of its output matches `ready`. */
function startChild(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = output.match(ready);
      if (match) resolve({ child, match });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) => reject(new Error(`${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function deploy(mode: Mode, options: Options, prefix: string, root: string): Promise<Deployment> {
  const port = await freePort();
  const common = { HOST: '127.0.0.1', PORT: String(port), DATA_DIR: path.join(root, 'data'), OUTPUT_DIR: path.join(root, 'outputs') };
  const bullmq = { REDIS_URL: options.redisUrl, QUEUE_PREFIX: prefix };
  const children: ChildProcess[] = [];
  const listening = /listening on (http:\/\/\S+)/;
  if (mode === 'embedded') {
    children.push((await startChild(['src/main.ts'], common, listening)).child);
  } else if (mode === 'bullmq-inproc') {
    children.push((await startChild(['src/main.ts'], { ...common, ...bullmq, WORKERS: '8' }, listening)).child);
  } else if (mode === 'bullmq-worker') {
    children.push((await startChild(['src/worker.ts'], { ...common, ...bullmq, WORKER_CONCURRENCY: '32' }, / ready: /)).child);
    children.push((await startChild(['src/main.ts'], { ...common, ...bullmq, WORKERS: '0' }, listening)).child);
  } else {
    children.push((await startChild(['src/worker.ts'], { ...common, ...bullmq, WORKER_CONCURRENCY: '32' }, / ready: /)).child);
    children.push((await startChild(['bench/api.ts'], { ...common, ...bullmq, WORKERS: '0', BENCH_CLUSTER_PRIMARY: '2' }, /cluster ready/)).child);
  }
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    stop: async () => {
      for (const child of children.reverse()) await stopChild(child);
    },
  };
}

/** Cluster primary (BENCH_CLUSTER_PRIMARY=N): N API processes sharing one port, each a full server (WORKERS from env). */
async function runClusterPrimary(count: number): Promise<void> {
  cluster.setupPrimary({ execArgv: ['--import', 'tsx'] });
  let ready = 0;
  for (let index = 0; index < count; index++) {
    cluster.fork({ BENCH_CLUSTER_PRIMARY: '', BENCH_CLUSTER_WORKER: '1' }).on('message', (message) => {
      if (message === 'listening' && ++ready === count) console.log(`cluster ready: ${count} API processes`);
    });
  }
  const stop = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 10_000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function runClusterWorker(): Promise<void> {
  const running = await startServer(loadConfig());
  process.send?.('listening');
  const stop = (): void => void running.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------- scenarios

const jobIdOf = (reply: Reply): string | undefined => {
  const location = reply.headers.location;
  return typeof location === 'string' ? location.split('/').pop() : undefined;
};

interface SubmitResult {
  load: LoadResult;
  jobIds: string[];
}

async function submitEchoJobs(client: HttpClient, options: Options): Promise<SubmitResult> {
  const jobIds: string[] = [];
  const result = await load(options.connections, options.durationMs, async () => {
    const reply = await client.send('POST', '/processes/echo/execution', { inputs: { echoInput: 'bench' } }, { prefer: 'respond-async' });
    const id = jobIdOf(reply);
    if (reply.status !== 201 || !id) return false;
    jobIds.push(id);
    return true;
  });
  return { load: result, jobIds };
}

interface DrainResult {
  successful: number;
  /** Ended failed or dismissed, or unknown to the server: jobs lost. */
  lost: number;
  /** Still accepted or running when the bounded wait ended. */
  unfinished: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** From the first submission to the last job finished. */
  spanMs: number;
}

interface JobOutcome {
  status: string;
  created: number;
  finished: number;
}

/** Waits (bounded) until every job is final; submit-to-successful from the server's `created` and `finished`. */
async function drain(client: HttpClient, jobIds: string[], timeoutMs: number): Promise<DrainResult> {
  const deadline = Date.now() + timeoutMs;
  const outcomes = new Map<string, JobOutcome>();
  let pending = [...jobIds];
  while (pending.length > 0 && Date.now() < deadline) {
    const stillPending: string[] = [];
    for (let start = 0; start < pending.length; start += 64) {
      await Promise.all(
        pending.slice(start, start + 64).map(async (id) => {
          const reply = await client.send('GET', `/jobs/${id}`).catch(() => undefined);
          if (reply?.status === 404) return outcomes.set(id, { status: 'missing', created: NaN, finished: NaN });
          const info = reply?.status === 200 ? (JSON.parse(reply.body) as { status: string; created: string; finished?: string }) : undefined;
          if (info && ['successful', 'failed', 'dismissed'].includes(info.status)) {
            outcomes.set(id, { status: info.status, created: Date.parse(info.created), finished: Date.parse(info.finished ?? info.created) });
          } else stillPending.push(id);
        }),
      );
    }
    pending = stillPending;
    if (pending.length > 0) await sleep(250);
  }
  const successful = [...outcomes.values()].filter((job) => job.status === 'successful');
  const times = successful.map((job) => job.finished - job.created).sort((a, b) => a - b);
  const span = successful.length > 0 ? Math.max(...successful.map((job) => job.finished)) - Math.min(...successful.map((job) => job.created)) : NaN;
  return {
    successful: successful.length,
    lost: outcomes.size - successful.length,
    unfinished: pending.length,
    p50Ms: percentile(times, 0.5),
    p99Ms: percentile(times, 0.99),
    maxMs: times[times.length - 1] ?? NaN,
    spanMs: span,
  };
}

async function measureMode(mode: Mode, options: Options, prefix: string): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), `bench-api-${mode}-`));
  const deployment = await deploy(mode, options, prefix, root);
  const client = new HttpClient(deployment.url, options.connections);
  try {
    console.log(`\n== ${mode} (${deployment.url.origin}, ${options.connections} connections, ${options.durationMs / 1000} s per scenario)`);
    const warm = await client.send('POST', '/processes/echo/execution', { inputs: { echoInput: 'warm-up' } }, { prefer: 'respond-async' });
    const sampleJob = jobIdOf(warm);
    if (!sampleJob) throw new Error(`could not submit a job: HTTP ${warm.status} ${warm.body}`);
    await load(options.connections, 1000, async () => (await client.send('GET', '/processes')).status === 200);

    console.log(`GET /processes            ${format(await load(options.connections, options.durationMs, async () => (await client.send('GET', '/processes')).status === 200))}`);
    console.log(`GET /jobs/{id}            ${format(await load(options.connections, options.durationMs, async () => (await client.send('GET', `/jobs/${sampleJob}`)).status === 200))}`);
    const submitted = await submitEchoJobs(client, options);
    console.log(`POST echo (async submit)  ${format(submitted.load)}`);
    const drained = await drain(client, submitted.jobIds, options.drainTimeoutMs);
    console.log(
      `echo submit→successful    p50 ${drained.p50Ms.toFixed(0)} ms  p99 ${drained.p99Ms.toFixed(0)} ms  max ${drained.maxMs.toFixed(0)} ms; ` +
        `${submitted.jobIds.length} submitted, ${drained.successful} successful, ${drained.lost} lost, ${drained.unfinished} unfinished after ${options.drainTimeoutMs / 1000} s; ` +
        `all done ${(drained.spanMs / 1000).toFixed(1)} s after the first submission (${(drained.successful / (drained.spanMs / 1000)).toFixed(0)} jobs/s end to end)`,
    );
    if (mode !== 'embedded' && options.listJobs > 0) await measureListing(client, options, prefix);
  } finally {
    client.close();
    await deployment.stop();
    await rm(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- listing 20 of many

async function fillJobs(store: RedisJobStore, count: number): Promise<void> {
  const statuses: JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];
  const base = Date.now() - count * 1000;
  for (let start = 0; start < count; start += 2000) {
    const batch: Promise<void>[] = [];
    for (let index = start; index < Math.min(count, start + 2000); index++) {
      const created = base + index * 1000;
      const status = statuses[index % statuses.length];
      const job: JobRecord = {
        id: `bench-${index}`,
        processId: index % 7 === 0 ? 'mosaic' : 'echo',
        type: 'process',
        status,
        created: new Date(created).toISOString(),
        updated: new Date(created).toISOString(),
        started: status === 'accepted' ? undefined : new Date(created + 500).toISOString(),
        finished: status === 'successful' || status === 'failed' ? new Date(created + 500 + (index % 120) * 1000).toISOString() : undefined,
        progress: status === 'successful' ? 100 : 0,
        request: { inputs: { echoInput: `job ${index}` }, response: 'document' },
      };
      batch.push(store.create(job));
    }
    await Promise.all(batch);
  }
}

async function timeListing(store: RedisJobStore, filter: Omit<JobFilter, 'offset' | 'limit'>, repeats: number): Promise<{ p50: number; max: number }> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const before = performance.now();
    await store.list({ ...filter, offset: 0, limit: 20 });
    times.push(performance.now() - before);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), max: times[times.length - 1] };
}

async function measureListing(client: HttpClient, options: Options, prefix: string): Promise<void> {
  const redis = new Redis(options.redisUrl);
  const store = new RedisJobStore(redis, { prefix });
  try {
    const existing = await redis.zcard(`${prefix}:idx:all`);
    if (existing < options.listJobs) {
      const filling = performance.now();
      await fillJobs(store, options.listJobs);
      console.log(`filled ${options.listJobs} job records in ${((performance.now() - filling) / 1000).toFixed(1)} s`);
    }
    const total = await redis.zcard(`${prefix}:idx:all`);
    const cases: Array<[string, Omit<JobFilter, 'offset' | 'limit'>]> = [
      ['no filter', {}],
      ['status=running', { statuses: ['running'] }],
      ['status=successful,failed', { statuses: ['successful', 'failed'] }],
      ['processID=mosaic&status=failed', { processIds: ['mosaic'], statuses: ['failed'] }],
      ['minDuration=100 (scan)', { minDuration: 100 }],
      ['datetime last hour', { createdFrom: new Date(Date.now() - 3600_000).toISOString() }],
    ];
    for (const [name, filter] of cases) {
      const { p50, max } = await timeListing(store, filter, 50);
      console.log(`store.list 20 of ${total}: ${name.padEnd(32)} p50 ${p50.toFixed(2)} ms  max ${max.toFixed(2)} ms`);
    }
    console.log(`GET /jobs?limit=20 (${total} jobs)  ${format(await load(options.connections, options.durationMs, async () => (await client.send('GET', '/jobs?limit=20')).status === 200))}`);
  } finally {
    redis.disconnect();
  }
}

async function deleteBenchKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(`bench:api on ${process.platform} ${process.arch}, Node ${process.version}; Redis ${options.redisUrl}`);
  for (const mode of options.modes) {
    const prefix = `bench-api-${process.pid}-${mode}`;
    try {
      await measureMode(mode, options, prefix);
    } finally {
      if (mode !== 'embedded') await deleteBenchKeys(options.redisUrl, prefix);
    }
  }
}

if (process.env.BENCH_CLUSTER_PRIMARY && cluster.isPrimary) {
  void runClusterPrimary(Number(process.env.BENCH_CLUSTER_PRIMARY));
} else if (process.env.BENCH_CLUSTER_WORKER) {
  void runClusterWorker();
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
