/**
 * The BullMQ worker: `npm run worker` runs it as its own process; the API process starts one in-process when
 * WORKERS > 0. It runs `<prefix>:jobs` (whole jobs, through the shared runner) and `<prefix>:units` (the
 * `ctx.map` work units of any job, on a worker-thread pool so the event loop stays free to renew job locks).
 */
import { availableParallelism } from 'node:os';
import { Worker, WaitingError, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConfigError, loadConfig } from './config';
import { ProcessRegistry } from './ogc/registry';
import {
  BullmqUnitDispatcher,
  commandConnection,
  DEFAULT_PREFIX,
  dismissChannel,
  JOBS_QUEUE,
  parseDismissMessage,
  subscriberConnection,
  STALLED_REASON,
  UNITS_QUEUE,
  WORKER_TIMINGS,
  type QueuedJobData,
  type QueuedUnitData,
} from './jobs/bullmq-backend';
import { CallbackDispatcher, type CallbackOptions } from './jobs/callbacks';
import { removeJobOutputs } from './jobs/output-store';
import { RedisJobStore } from './jobs/redis-store';
import { isFinal, runJob } from './jobs/runner';
import { UnitPool } from './jobs/unit-pool';

export interface WorkerOptions {
  registry: ProcessRegistry;
  outputDir: string;
  redisUrl: string;
  prefix?: string;
  /** Jobs run at once. Default: number of CPUs. */
  concurrency?: number;
  /** Units run at once (each on a worker thread). Default: number of CPUs. */
  unitConcurrency?: number;
  callbacks?: CallbackOptions;
  progressIntervalMs?: number;
  log?: (message: string) => void;
}

export interface RunningWorker {
  /**
   * Stops taking work; running jobs and units get `graceMs` (default 5 s) to finish, then are aborted and put
   * back in the queue for another worker.
   */
  close(graceMs?: number): Promise<void>;
}

class DismissedError extends Error {
  override name = 'AbortError';
  constructor() {
    super('The job was dismissed');
  }
}

class ShutdownError extends Error {
  override name = 'AbortError';
  constructor() {
    super('The worker is shutting down');
  }
}

const DEFAULT_GRACE_MS = 5_000;

class JobWorker implements RunningWorker {
  private readonly runningJobs = new Map<string, AbortController>();
  private readonly runningUnits = new Map<AbortController, QueuedUnitData>();
  private readonly log: (message: string) => void;
  private jobsWorker?: Worker<QueuedJobData>;
  private unitsWorker?: Worker<QueuedUnitData>;
  private closing?: Promise<void>;

  constructor(
    private readonly options: WorkerOptions & { prefix: string },
    private readonly commands: Redis,
    private readonly subscriber: Redis,
    private readonly store: RedisJobStore,
    private readonly dispatcher: BullmqUnitDispatcher,
    private readonly jobEvents: QueueEvents,
    private readonly unitPool: UnitPool,
    private readonly callbacks: CallbackDispatcher,
  ) {
    this.log = options.log ?? ((message) => console.warn(message));
    subscriber.on('message', (_channel: string, message: string) => this.onDismissMessage(message));
    jobEvents.on('failed', ({ jobId, failedReason }) => void this.markFailed(jobId, failedReason));
  }

  start(): void {
    const { prefix } = this.options;
    const cpus = availableParallelism();
    this.jobsWorker = new Worker<QueuedJobData>(JOBS_QUEUE, (job, token) => this.processJob(job, token), {
      connection: this.commands,
      prefix,
      concurrency: Math.max(1, this.options.concurrency ?? cpus),
      ...WORKER_TIMINGS,
    });
    this.unitsWorker = new Worker<QueuedUnitData>(UNITS_QUEUE, (job, token) => this.processUnit(job, token), {
      connection: this.commands,
      prefix,
      concurrency: this.unitPool.size,
      ...WORKER_TIMINGS,
    });
    for (const worker of [this.jobsWorker, this.unitsWorker] as Worker[]) {
      worker.on('error', (error) => this.log(`${worker.name} worker: ${error.message}`));
    }
    this.jobsWorker.on('stalled', (jobId) => void this.markRequeued(jobId));
  }

  private async processJob(queued: Job<QueuedJobData>, token?: string): Promise<void> {
    const id = queued.data.jobId;
    const controller = new AbortController();
    this.runningJobs.set(id, controller);
    try {
      // Read after registering: a dismissal published from now on aborts this run.
      const job = await this.store.get(id);
      if (!job || isFinal(job)) return;
      await runJob(job, {
        store: this.store,
        registry: this.options.registry,
        outputRoot: this.options.outputDir,
        signal: controller.signal,
        map: this.dispatcher.mapper,
        callbacks: this.callbacks,
        progressIntervalMs: this.options.progressIntervalMs,
        log: this.log,
      });
      if (controller.signal.reason instanceof ShutdownError) {
        await this.store.update(id, { status: 'accepted', message: 'Queued again: the worker running it shut down' });
        await this.returnToQueue(queued, token);
      }
      // Files the run wrote after the API removed the job folder.
      if (controller.signal.reason instanceof DismissedError) await removeJobOutputs(this.options.outputDir, id);
    } finally {
      this.runningJobs.delete(id);
    }
  }

  private async processUnit(queued: Job<QueuedUnitData>, token?: string): Promise<unknown> {
    const data = queued.data;
    const controller = new AbortController();
    this.runningUnits.set(controller, data);
    try {
      // A unit of a dismissed or already finished job (its batch failed, or the job re-ran after a stall) is moot.
      const parent = await this.store.get(data.jobId);
      if (!parent || parent.status === 'dismissed') throw new DismissedError();
      if (isFinal(parent)) throw new Error(`job ${data.jobId} is already ${parent.status}`);
      const request = { jobId: data.jobId, processId: data.processId, signal: controller.signal };
      const [result] = await this.unitPool.map(request, data.unit, [data.payload]);
      // BullMQ stores return values as JSON: undefined would come back as nothing at all.
      return result ?? null;
    } catch (error) {
      if (controller.signal.reason instanceof ShutdownError) await this.returnToQueue(queued, token);
      throw error;
    } finally {
      this.runningUnits.delete(controller);
    }
  }

  /** Hands an active BullMQ job back to the wait list (WaitingError tells BullMQ not to complete or fail it). */
  private async returnToQueue(queued: Job, token?: string): Promise<never> {
    if (token) await queued.moveToWait(token);
    throw new WaitingError();
  }

  private onDismissMessage(message: string): void {
    const parsed = parseDismissMessage(message);
    if (!parsed) return;
    if (parsed.kind === 'job') this.runningJobs.get(parsed.id)?.abort(new DismissedError());
    for (const [controller, unit] of this.runningUnits) {
      const target = parsed.kind === 'job' ? unit.jobId : unit.batchKey;
      if (target === parsed.id) controller.abort(new DismissedError());
    }
  }

  /** A job BullMQ failed without our runner recording it (it stalled too often, or the processor crashed). */
  private async markFailed(id: string, failedReason: string): Promise<void> {
    try {
      const job = await this.store.get(id);
      if (!job || isFinal(job)) return;
      const detail =
        failedReason === STALLED_REASON
          ? `the worker running the job stopped (killed, crashed or out of memory) ${WORKER_TIMINGS.maxStalledCount + 1} times; it is not retried again`
          : failedReason;
      const instant = new Date().toISOString();
      const failed = await this.store.update(id, {
        status: 'failed',
        message: `Job failed: ${detail}`,
        exception: { type: 'NoApplicableCode', title: 'Job execution failed', status: 500, detail },
        finished: instant,
        updated: instant,
      });
      if (failed?.status === 'failed') this.callbacks.jobFailed(failed);
    } catch (error) {
      this.log(`could not record the failure of job ${id}: ${String(error)}`);
    }
  }

  /** The stalled-job check put a job whose worker died back in the queue. */
  private async markRequeued(id: string): Promise<void> {
    await this.store
      .update(id, { status: 'accepted', message: 'Queued again: the worker running it stopped responding' })
      .catch((error) => this.log(`could not record the re-queueing of job ${id}: ${String(error)}`));
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.closing ??= this.shutDown(graceMs);
    return this.closing;
  }

  private async shutDown(graceMs: number): Promise<void> {
    const workersClosed = Promise.all([this.jobsWorker?.close(), this.unitsWorker?.close()]);
    const abortTimer = setTimeout(() => {
      for (const controller of this.runningJobs.values()) controller.abort(new ShutdownError());
      for (const controller of this.runningUnits.keys()) controller.abort(new ShutdownError());
    }, graceMs);
    try {
      await workersClosed;
    } finally {
      clearTimeout(abortTimer);
    }
    await this.dispatcher.close();
    await this.jobEvents.close();
    await this.unitPool.close();
    await this.callbacks.close();
    this.subscriber.disconnect();
    await this.commands.quit().catch(() => undefined);
  }
}

/** Connects to Redis and starts processing jobs and units; resolves once listening for dismissals. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const prefix = options.prefix || DEFAULT_PREFIX;
  const commands = commandConnection(options.redisUrl);
  const subscriber = subscriberConnection(options.redisUrl);
  await subscriber.subscribe(dismissChannel(prefix));
  // BullMQ duplicates the given connection for its blocking reads (workers, queue events) and closes those itself.
  const jobEvents = new QueueEvents(JOBS_QUEUE, { connection: commands, prefix });
  jobEvents.on('error', (error) => console.warn(`jobs queue events: ${error.message}`));
  await jobEvents.waitUntilReady();
  const dispatcher = await BullmqUnitDispatcher.create({ registry: options.registry, prefix, connection: commands });
  const worker = new JobWorker(
    { ...options, prefix },
    commands,
    subscriber,
    new RedisJobStore(commands, { prefix }),
    dispatcher,
    jobEvents,
    new UnitPool({ registry: options.registry, outputRoot: options.outputDir, size: options.unitConcurrency }),
    new CallbackDispatcher(options.callbacks),
  );
  worker.start();
  return worker;
}

function positiveInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<void> {
  // The API's configuration (DATA_DIR, OUTPUT_DIR, REDIS_URL, QUEUE_PREFIX, PUBLIC_URL), so both agree.
  const config = loadConfig();
  if (!config.redisUrl) {
    console.error('REDIS_URL is required: the worker takes its jobs from Redis (e.g. REDIS_URL=redis://127.0.0.1:6379/0).');
    process.exit(2);
  }
  const prefix = config.queuePrefix || DEFAULT_PREFIX;
  const registry = ProcessRegistry.load(process.env.PROCESSES_DIR?.trim() || undefined);
  const worker = await startWorker({
    registry,
    outputDir: config.outputDir,
    redisUrl: config.redisUrl,
    prefix,
    concurrency: positiveInteger('WORKER_CONCURRENCY'),
    unitConcurrency: positiveInteger('UNIT_CONCURRENCY'),
    callbacks: { publicUrl: config.publicUrl },
  });
  const graceMs = positiveInteger('SHUTDOWN_GRACE_MS') ?? DEFAULT_GRACE_MS;
  console.log(`worker ${process.pid} ready: queues ${prefix}:${JOBS_QUEUE} and ${prefix}:${UNITS_QUEUE}, processes ${registry.list().map((p) => p.description.id).join(', ')}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`worker ${process.pid}: ${signal}, finishing running jobs (up to ${graceMs} ms)`);
    worker.close(graceMs).then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error instanceof ConfigError ? `configuration error: ${error.message}` : error);
    process.exit(1);
  });
}
