import { randomUUID } from 'node:crypto';
import type { ProcessRegistry } from '../ogc/registry';
import type { MapOptions, ProcessOutputs, RunContext } from '../ogc/process';
import type { CallbackDispatcher } from './callbacks';
import { jobOutputStore } from './output-store';
import type { JobException, JobRecord, JobStore, StoredExecuteRequest } from './types';

/** What a backend needs to know to fan out the units of one job. */
export interface UnitMapRequest {
  jobId: string;
  processId: string;
  signal: AbortSignal;
}

/** Each backend provides `ctx.map`: worker threads in the embedded mode, child jobs with BullMQ. */
export type UnitMapper = (request: UnitMapRequest) => RunContext['map'];

export interface RunJobDeps {
  store: JobStore;
  registry: ProcessRegistry;
  outputRoot: string;
  /** Aborted when the job is dismissed or the backend shuts down; the runner then leaves the final status to the aborter. */
  signal: AbortSignal;
  map: UnitMapper;
  callbacks?: CallbackDispatcher;
  /** Minimum time between two progress writes; the last value is always written. Default 250 ms (≤ 4 writes/s). */
  progressIntervalMs?: number;
  log?: (message: string) => void;
}

/** Both backends' check of `ctx.map` options: one group, a string, per payload. */
export function checkMapOptions(payloadCount: number, options: MapOptions | undefined): void {
  const groups = options?.groups;
  if (groups && (groups.length !== payloadCount || !groups.every((group) => typeof group === 'string'))) {
    throw new Error('map: groups must give one string per payload');
  }
}

export const FINAL_STATUSES: ReadonlySet<JobRecord['status']> = new Set(['successful', 'failed', 'dismissed']);

export function isFinal(job: Pick<JobRecord, 'status'>): boolean {
  return FINAL_STATUSES.has(job.status);
}

export function newJobId(): string {
  return randomUUID();
}

/** A new `accepted` job record, ready for `store.create` and `backend.submit`. */
export function newJobRecord(processId: string, request: StoredExecuteRequest, now = new Date()): JobRecord {
  const instant = now.toISOString();
  return {
    id: newJobId(),
    processId,
    type: 'process',
    status: 'accepted',
    message: 'Job accepted',
    created: instant,
    updated: instant,
    progress: 0,
    request,
  };
}

/** The record patch that dismisses a job: final status, finish time kept if it had one, results dropped. */
export function dismissalPatch(job: JobRecord, now = new Date()): Partial<JobRecord> {
  const instant = now.toISOString();
  return { status: 'dismissed', message: 'Job dismissed', finished: job.finished ?? instant, updated: instant, results: undefined };
}

export function exceptionOf(error: unknown): JobException {
  const detail = error instanceof Error ? error.message : String(error);
  return { type: 'NoApplicableCode', title: 'Process execution failed', status: 500, detail };
}

/** Writes progress to the store at most once per interval, never backwards, the newest value winning. */
class ProgressReporter {
  private best = 0;
  private pending?: { progress: number; message?: string };
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private lastWriteAt = 0;
  private stopped = false;

  constructor(
    private readonly jobId: string,
    private readonly deps: RunJobDeps,
  ) {}

  report(percent: number, message?: string): void {
    if (this.stopped || !Number.isFinite(percent)) return;
    const value = Math.min(100, Math.max(0, Math.round(percent)));
    if (value < this.best) return;
    this.best = value;
    this.pending = message === undefined ? { progress: value } : { progress: value, message };
    this.schedule();
  }

  /** Stops reporting; resolves once a write in progress has landed. Returns the highest value reported. */
  async stop(): Promise<number> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.pending = undefined;
    await this.writing;
    return this.best;
  }

  private schedule(): void {
    if (this.stopped || this.writing || this.timer || !this.pending) return;
    const interval = this.deps.progressIntervalMs ?? 250;
    const wait = this.lastWriteAt + interval - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
      return;
    }
    const patch = this.pending;
    this.pending = undefined;
    this.lastWriteAt = Date.now();
    this.writing = this.deps.store
      .update(this.jobId, { ...patch, updated: new Date().toISOString() })
      .then((record) => {
        if (record && !this.stopped) this.deps.callbacks?.jobProgressed(record);
      })
      .catch((error) => this.deps.log?.(`progress of job ${this.jobId} not stored: ${String(error)}`))
      .finally(() => {
        this.writing = undefined;
        this.schedule();
      });
  }
}

/**
 * Runs one job to its end, whatever the backend: marks it running, calls the process, stores results or the
 * exception, fires subscriber callbacks. When the signal aborts, the job's final status belongs to whoever
 * aborted it (dismiss writes `dismissed`; a shutdown leaves it `running` to be re-run): nothing is written here.
 * Returns the job record as it stands when the run ends.
 */
export async function runJob(job: JobRecord, deps: RunJobDeps): Promise<JobRecord | undefined> {
  const { store, signal } = deps;
  const current = await store.get(job.id);
  if (!current || isFinal(current) || signal.aborted) return current;

  const started = await store.update(job.id, {
    status: 'running',
    started: new Date().toISOString(),
    updated: new Date().toISOString(),
    message: 'Job running',
  });
  // A dismissal that landed between the read above and this update wins: the stored status stays final.
  if (!started || started.status !== 'running') return started;
  deps.callbacks?.jobStarted(started);

  const plugin = deps.registry.get(job.processId);
  if (!plugin) return fail(started, new Error(`process ${job.processId} is not available on this server`), 0, deps);

  const reporter = new ProgressReporter(job.id, deps);
  const ctx: RunContext = {
    jobId: job.id,
    signal,
    store: jobOutputStore(deps.outputRoot, job.id),
    // After an abort the record belongs to the aborter: late progress must not touch it.
    progress: (percent, message) => {
      if (!signal.aborted) reporter.report(percent, message);
    },
    map: deps.map({ jobId: job.id, processId: job.processId, signal }),
  };

  let outputs: ProcessOutputs;
  try {
    outputs = await plugin.run(structuredClone(started.request.inputs), ctx);
  } catch (error) {
    const progress = await reporter.stop();
    if (signal.aborted) return store.get(job.id);
    return fail(started, error, progress, deps);
  }
  await reporter.stop();
  if (signal.aborted) return store.get(job.id);
  return succeed(started, outputs, deps);
}

/** Writes a final status unless the job was dismissed (or deleted) meanwhile. */
async function finish(job: JobRecord, patch: Partial<JobRecord>, deps: RunJobDeps): Promise<JobRecord | undefined> {
  const latest = await deps.store.get(job.id);
  if (!latest || latest.status === 'dismissed') return latest;
  const instant = new Date().toISOString();
  return deps.store.update(job.id, { ...patch, finished: instant, updated: instant });
}

async function succeed(job: JobRecord, outputs: ProcessOutputs, deps: RunJobDeps): Promise<JobRecord | undefined> {
  const record = await finish(
    job,
    { status: 'successful', results: outputs, progress: 100, message: 'Job completed', exception: undefined },
    deps,
  );
  if (record?.status === 'successful') deps.callbacks?.jobSucceeded(record);
  return record;
}

async function fail(job: JobRecord, error: unknown, progress: number, deps: RunJobDeps): Promise<JobRecord | undefined> {
  const exception = exceptionOf(error);
  const record = await finish(
    job,
    { status: 'failed', exception, progress, message: `Job failed: ${exception.detail}`, results: undefined },
    deps,
  );
  if (record?.status === 'failed') deps.callbacks?.jobFailed(record);
  return record;
}
