import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { ProcessRegistry } from '../ogc/registry';
import type { CallbackOptions } from './callbacks';
import { removeJobOutputs } from './output-store';
import { RedisJobStore } from './redis-store';
import { checkMapOptions, dismissalPatch, isFinal, type UnitMapRequest, type UnitMapper } from './runner';
import type { JobBackend, JobRecord } from './types';
import { abortError } from '../abort';

/** BullMQ queue names; with the BullMQ prefix their keys are `<prefix>:jobs:*` and `<prefix>:units:*`. */
export const JOBS_QUEUE = 'jobs';
export const UNITS_QUEUE = 'units';
export const DEFAULT_PREFIX = 'ogc';

/**
 * A worker holds a 10 s lock on each job it runs, renewed every 5 s; every 5 s each worker looks for jobs whose
 * lock expired (their worker died) and puts them back in the queue, once: a job that stalls a second time fails.
 */
export const WORKER_TIMINGS = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1 } as const;

/** BullMQ's failedReason for a job that stalled more than `maxStalledCount` times. */
export const STALLED_REASON = 'job stalled more than allowable limit';

export const JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { count: 1_000, age: 24 * 3600 },
  removeOnFail: { count: 5_000, age: 7 * 24 * 3600 },
};

/** Units keep their result a while after completing, so a parent that missed the event can still read it. */
export const UNIT_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { count: 10_000, age: 3600 },
  removeOnFail: { count: 10_000, age: 3600 },
};

/** Data of a `<prefix>:jobs` queue entry: the record itself lives in the job store. */
export interface QueuedJobData {
  jobId: string;
}

/** Data of a `<prefix>:units` queue entry: one `ctx.map` work unit of a job. */
export interface QueuedUnitData {
  jobId: string;
  processId: string;
  unit: string;
  /** `<jobId>.<batch>`: the units of one `ctx.map` call, cancelled together. */
  batchKey: string;
  index: number;
  payload: unknown;
}

/**
 * Messages on the `<prefix>:dismiss` channel: `job <id>` aborts the job and its units on every worker;
 * `batch <batchKey>` aborts the running units of one `ctx.map` call (after its first failure).
 */
export function dismissChannel(prefix: string): string {
  return `${prefix}:dismiss`;
}

export function jobMessage(jobId: string): string {
  return `job ${jobId}`;
}

export function batchMessage(batchKey: string): string {
  return `batch ${batchKey}`;
}

export function parseDismissMessage(message: string): { kind: 'job' | 'batch'; id: string } | undefined {
  const space = message.indexOf(' ');
  const kind = message.slice(0, space);
  if (space < 0 || (kind !== 'job' && kind !== 'batch')) return undefined;
  return { kind, id: message.slice(space + 1) };
}

/** A connection for commands (queue, store, publishing), also lent to BullMQ workers and queue events. */
export function commandConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

/** A connection for a pub/sub subscriber: never shared. (BullMQ makes its own blocking connections.) */
export function subscriberConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

interface PendingUnit {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** How often pending units are checked directly, in case a completion event was missed (trimmed stream, reconnect). */
const UNIT_SWEEP_MS = 5_000;

/**
 * `ctx.map` on BullMQ: each payload becomes a job on the `<prefix>:units` queue, processed by any worker process;
 * completions arrive through QueueEvents. Used by the worker process that runs the parent job.
 */
export class BullmqUnitDispatcher {
  private readonly pending = new Map<string, PendingUnit>();
  private readonly sweepTimer: NodeJS.Timeout;
  private lastEventAt = Date.now();

  private constructor(
    private readonly registry: ProcessRegistry,
    private readonly queue: Queue<QueuedUnitData>,
    private readonly events: QueueEvents,
    private readonly publisher: Redis,
    private readonly prefix: string,
  ) {
    events.on('completed', ({ jobId, returnvalue }) => {
      this.lastEventAt = Date.now();
      this.settle(jobId, undefined, returnvalue);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.lastEventAt = Date.now();
      this.settle(jobId, new Error(failedReason));
    });
    this.sweepTimer = setInterval(() => void this.sweep(), UNIT_SWEEP_MS).unref();
  }

  /** `connection` carries the queue's commands and dismissal messages; the events reader gets a duplicate. */
  static async create(options: { registry: ProcessRegistry; prefix: string; connection: Redis }): Promise<BullmqUnitDispatcher> {
    const queue = new Queue<QueuedUnitData>(UNITS_QUEUE, { connection: options.connection, prefix: options.prefix });
    const events = new QueueEvents(UNITS_QUEUE, { connection: options.connection, prefix: options.prefix });
    queue.on('error', (error) => console.warn(`units queue: ${error.message}`));
    events.on('error', (error) => console.warn(`units queue events: ${error.message}`));
    await events.waitUntilReady();
    return new BullmqUnitDispatcher(options.registry, queue, events, options.connection, options.prefix);
  }

  /**
   * Locality groups (`MapOptions.groups`) are checked but not used: units are queued in payload order and workers
   * take them first come, first served.
   */
  readonly mapper: UnitMapper = (request) => async (unit, payloads, onUnitDone, options) => {
    checkMapOptions(payloads.length, options);
    return this.map(request, unit, payloads, onUnitDone);
  };

  async map<P, R>(
    request: UnitMapRequest,
    unit: string,
    payloads: P[],
    onUnitDone?: (index: number, result: R) => void,
  ): Promise<R[]> {
    if (!this.registry.get(request.processId)?.units?.[unit]) {
      throw new Error(`process ${request.processId} has no unit ${unit}`);
    }
    request.signal.throwIfAborted();
    if (payloads.length === 0) return [];
    const batchKey = `${request.jobId}.${randomBytes(6).toString('hex')}`;
    const ids = payloads.map((_, index) => `${batchKey}.${index}`);
    const results = new Array<R>(payloads.length);
    let remaining = payloads.length;

    return new Promise<R[]>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error): void => {
        if (settled) return;
        settled = true;
        request.signal.removeEventListener('abort', onAbort);
        const unfinished = ids.filter((id) => this.pending.delete(id));
        if (!error) return resolve(results);
        void this.cancel(batchKey, unfinished);
        reject(error);
      };
      const onAbort = (): void => finish(abortError(request.signal));
      request.signal.addEventListener('abort', onAbort, { once: true });
      ids.forEach((id, index) => {
        this.pending.set(id, {
          resolve: (result) => {
            results[index] = result as R;
            try {
              onUnitDone?.(index, result as R);
            } catch (error) {
              return finish(error instanceof Error ? error : new Error(String(error)));
            }
            if (--remaining === 0) finish();
          },
          reject: (error) => finish(new Error(`unit ${unit} #${index} failed: ${error.message}`)),
        });
      });
      // Waiters are registered before the units are queued, so no completion can be missed.
      this.queue
        .addBulk(
          payloads.map((payload, index) => ({
            name: unit,
            data: { jobId: request.jobId, processId: request.processId, unit, batchKey, index, payload },
            opts: { ...UNIT_OPTIONS, jobId: ids[index] },
          })),
        )
        .catch((error: Error) => finish(error));
    });
  }

  /** Removes the batch's queued units and aborts its running ones. */
  private async cancel(batchKey: string, unfinished: string[]): Promise<void> {
    await this.publisher.publish(dismissChannel(this.prefix), batchMessage(batchKey)).catch(() => undefined);
    await Promise.all(unfinished.map((id) => this.queue.remove(id).catch(() => 0)));
  }

  private settle(unitId: string, error?: Error, result?: unknown): void {
    const waiter = this.pending.get(unitId);
    if (!waiter) return;
    this.pending.delete(unitId);
    if (error) waiter.reject(error);
    else waiter.resolve(result);
  }

  /** Reads the state of every pending unit when no event came for a while: a safety net, not the normal path. */
  private async sweep(): Promise<void> {
    if (Date.now() - this.lastEventAt < UNIT_SWEEP_MS) return;
    for (const id of [...this.pending.keys()]) {
      const job = await this.queue.getJob(id).catch(() => undefined);
      if (!job) continue;
      if (job.finishedOn && job.failedReason) this.settle(id, new Error(job.failedReason));
      else if (job.finishedOn) this.settle(id, undefined, job.returnvalue);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const waiter of this.pending.values()) waiter.reject(new Error('the unit dispatcher is closed'));
    this.pending.clear();
    await this.events.close();
    await this.queue.close();
  }
}

export interface BullmqBackendOptions {
  registry: ProcessRegistry;
  outputDir: string;
  redisUrl: string;
  /** Prefix of every Redis key and channel of this deployment. Default `ogc`. */
  prefix?: string;
  /** Jobs this API process runs itself (and units, each); 0 = API only. Default: number of CPUs. */
  workers?: number;
  callbacks?: CallbackOptions;
  /** How long `close` lets in-process jobs finish before returning them to the queue. Default 5 s. */
  shutdownGraceMs?: number;
}

type StatusListener = () => void;

/** Jobs on BullMQ: the API stores the record and queues the job; worker processes (and optionally this one) run it. */
export class BullmqBackend implements JobBackend {
  private readonly statusListeners = new Map<string, Set<StatusListener>>();
  private readonly pendingWaits = new Set<(error: unknown) => void>();
  private closed = false;

  private constructor(
    readonly store: RedisJobStore,
    private readonly options: BullmqBackendOptions & { prefix: string },
    private readonly commands: Redis,
    private readonly subscriber: Redis,
    private readonly queue: Queue<QueuedJobData>,
    private readonly localWorker?: { close(graceMs?: number): Promise<void> },
  ) {
    subscriber.on('message', (_channel: string, message: string) => this.onStatusMessage(message));
    // Messages published while the subscriber was reconnecting are lost: every waiter reads its record again.
    subscriber.on('ready', () => {
      for (const listeners of this.statusListeners.values()) for (const listener of listeners) listener();
    });
  }

  static async create(options: BullmqBackendOptions): Promise<BullmqBackend> {
    const prefix = options.prefix || DEFAULT_PREFIX;
    const commands = commandConnection(options.redisUrl);
    const subscriber = subscriberConnection(options.redisUrl);
    const store = new RedisJobStore(commands, { prefix });
    await subscriber.subscribe(store.statusChannel);
    const queue = new Queue<QueuedJobData>(JOBS_QUEUE, { connection: commands, prefix });
    queue.on('error', (error) => console.warn(`jobs queue: ${error.message}`));
    const workers = options.workers ?? availableParallelism();
    let localWorker: { close(graceMs?: number): Promise<void> } | undefined;
    if (workers > 0) {
      // Loaded here: the worker module imports this one.
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { startWorker } = require('../worker') as typeof import('../worker');
      localWorker = await startWorker({
        registry: options.registry,
        outputDir: options.outputDir,
        redisUrl: options.redisUrl,
        prefix,
        concurrency: workers,
        unitConcurrency: workers,
        callbacks: options.callbacks,
      });
    }
    return new BullmqBackend(store, { ...options, prefix }, commands, subscriber, queue, localWorker);
  }

  async submit(job: JobRecord): Promise<void> {
    if (this.closed) throw new Error('the job backend is closed');
    await this.queue.add('execute', { jobId: job.id }, { ...JOB_OPTIONS, jobId: job.id });
  }

  async waitForFinal(id: string, signal?: AbortSignal): Promise<JobRecord> {
    signal?.throwIfAborted();
    if (this.closed) throw new Error('the job backend is closed');
    return new Promise<JobRecord>((resolve, reject) => {
      let reading = false;
      let readAgain = false;
      const stop = (): void => {
        this.removeStatusListener(id, onStatusChange);
        this.pendingWaits.delete(giveUp);
        signal?.removeEventListener('abort', onAbort);
      };
      const giveUp = (error: unknown): void => {
        stop();
        reject(error);
      };
      const onAbort = (): void => giveUp(signal?.reason ?? new Error('aborted'));
      // A status message only says "changed": the record is read again, one read at a time.
      const readRecord = async (): Promise<void> => {
        reading = true;
        try {
          do {
            readAgain = false;
            const record = await this.store.get(id);
            if (!record) return giveUp(new Error(`no job ${id}`));
            if (isFinal(record)) {
              stop();
              return resolve(record);
            }
          } while (readAgain);
        } catch (error) {
          giveUp(error);
        } finally {
          reading = false;
        }
      };
      const onStatusChange = (): void => {
        if (reading) readAgain = true;
        else void readRecord();
      };
      // Listening before the first read, so a final status written in between is not missed.
      this.addStatusListener(id, onStatusChange);
      this.pendingWaits.add(giveUp);
      signal?.addEventListener('abort', onAbort, { once: true });
      onStatusChange();
    });
  }

  async dismiss(id: string): Promise<JobRecord | undefined> {
    const job = await this.store.get(id);
    if (!job) return undefined;
    // Marked first: a worker that picks the job up from now on sees it dismissed and skips it.
    const dismissed = await this.store.update(id, dismissalPatch(job));
    await this.queue.remove(id).catch(() => 0);
    await this.commands.publish(dismissChannel(this.options.prefix), jobMessage(id));
    await removeJobOutputs(this.options.outputDir, id);
    return dismissed;
  }

  /** Stops this process's workers (their running jobs finish or go back to the queue) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.localWorker?.close(this.options.shutdownGraceMs);
    for (const giveUp of [...this.pendingWaits]) giveUp(new Error('the job backend is closed'));
    await this.queue.close();
    this.subscriber.disconnect();
    await this.commands.quit().catch(() => undefined);
  }

  private onStatusMessage(message: string): void {
    const id = message.slice(0, message.indexOf(' '));
    for (const listener of this.statusListeners.get(id) ?? []) listener();
  }

  private addStatusListener(id: string, listener: StatusListener): void {
    let listeners = this.statusListeners.get(id);
    if (!listeners) this.statusListeners.set(id, (listeners = new Set()));
    listeners.add(listener);
  }

  private removeStatusListener(id: string, listener: StatusListener): void {
    const listeners = this.statusListeners.get(id);
    listeners?.delete(listener);
    if (listeners?.size === 0) this.statusListeners.delete(id);
  }
}
