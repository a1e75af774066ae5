import { EventEmitter } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import type { ProcessRegistry } from '../ogc/registry';
import { CallbackDispatcher, type CallbackOptions } from './callbacks';
import { FileJobStore } from './file-store';
import { removeJobOutputs } from './output-store';
import { dismissalPatch, isFinal, runJob } from './runner';
import type { JobBackend, JobRecord } from './types';
import { UnitPool } from './unit-pool';

export interface EmbeddedBackendOptions {
  registry: ProcessRegistry;
  outputDir: string;
  dataDir: string;
  /** Jobs running at once. Default: number of CPUs. */
  concurrency?: number;
  /** Worker threads for `ctx.map` units, shared by all jobs. Default: number of CPUs. */
  unitThreads?: number;
  callbacks?: CallbackOptions;
  progressIntervalMs?: number;
}

/** How long dismiss and close wait for an aborted run to unwind before going on without it. */
const ABORT_GRACE_MS = 2_000;

export class JobDismissedError extends Error {
  override name = 'AbortError';
  constructor() {
    super('The job was dismissed');
  }
}

export class BackendClosingError extends Error {
  override name = 'AbortError';
  constructor() {
    super('The server is shutting down');
  }
}

/** Waits for `work` but no longer than `ms`, without a timer left behind to hold the process open. */
async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([work.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Data folders locked by backends of this process (a stale lock may carry our own pid after a container restart). */
const lockedByThisProcess = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dataDir>/embedded-backend.lock`: two embedded backends on one data folder would both re-run the
 * jobs they find running. A lock whose process is gone is stale and taken over. Returns the release function.
 */
function lockDataDir(dataDir: string): () => void {
  const file = path.join(path.resolve(dataDir), 'embedded-backend.lock');
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      lockedByThisProcess.add(file);
      return () => {
        lockedByThisProcess.delete(file);
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(file, 'utf8').trim());
    const ours = holder === process.pid;
    if ((ours && lockedByThisProcess.has(file)) || (!ours && holder > 0 && isAlive(holder))) {
      throw new Error(`${dataDir} is in use by another embedded job backend (process ${holder})`);
    }
    rmSync(file, { force: true });
  }
}

interface RunningJob {
  controller: AbortController;
  settled: Promise<void>;
}

/**
 * Runs jobs inside this process: a FIFO queue drained by at most `concurrency` jobs at a time, job records in a
 * FileJobStore under dataDir, `ctx.map` units on a shared worker-thread pool. Jobs left queued or running by a
 * previous process are queued again (from the start) when the backend is created.
 */
export class EmbeddedBackend implements JobBackend {
  private queue: string[] = [];
  private readonly running = new Map<string, RunningJob>();
  private readonly finalJobs = new EventEmitter().setMaxListeners(0);
  private readonly pendingWaits = new Set<(error: Error) => void>();
  private readonly concurrency: number;
  private readonly units: UnitPool;
  private readonly callbacks: CallbackDispatcher;
  private closed = false;

  private constructor(
    readonly store: FileJobStore,
    private readonly options: EmbeddedBackendOptions,
    private readonly releaseDataDir: () => void,
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? availableParallelism());
    this.units = new UnitPool({ registry: options.registry, outputRoot: options.outputDir, size: options.unitThreads });
    this.callbacks = new CallbackDispatcher(options.callbacks);
  }

  static async create(options: EmbeddedBackendOptions): Promise<EmbeddedBackend> {
    // Locked before the store opens: opening deletes leftover temporary files another backend could be writing.
    await mkdir(options.dataDir, { recursive: true });
    const release = lockDataDir(options.dataDir);
    let backend: EmbeddedBackend;
    try {
      backend = new EmbeddedBackend(await FileJobStore.open(options.dataDir), options, release);
    } catch (error) {
      release();
      throw error;
    }
    try {
      await backend.requeueUnfinished();
    } catch (error) {
      await backend.close();
      throw error;
    }
    backend.pump();
    return backend;
  }

  async submit(job: JobRecord): Promise<void> {
    if (this.closed) throw new Error('the job backend is closed');
    if (this.queue.includes(job.id) || this.running.has(job.id)) return;
    this.queue.push(job.id);
    this.pump();
  }

  async waitForFinal(id: string, signal?: AbortSignal): Promise<JobRecord> {
    signal?.throwIfAborted();
    // Listening before reading the record, so a final status written in between is not missed.
    const { reached, stop } = this.listenForFinal(id, signal);
    try {
      const current = await this.store.get(id);
      if (!current) throw new Error(`no job ${id}`);
      if (isFinal(current)) return current;
      if (this.closed) throw new Error('the job backend is closed');
    } catch (error) {
      stop();
      throw error;
    }
    return reached;
  }

  /** Resolves with the job when it becomes final; rejects when `signal` aborts or the backend closes. */
  private listenForFinal(id: string, signal?: AbortSignal): { reached: Promise<JobRecord>; stop: () => void } {
    let stop = (): void => undefined;
    const reached = new Promise<JobRecord>((resolve, reject) => {
      const onFinal = (job: JobRecord): void => {
        stop();
        resolve(job);
      };
      const onGiveUp = (error: Error): void => {
        stop();
        reject(error);
      };
      const onAbort = (): void => onGiveUp(signal?.reason ?? new Error('aborted'));
      stop = () => {
        this.finalJobs.off(id, onFinal);
        this.pendingWaits.delete(onGiveUp);
        signal?.removeEventListener('abort', onAbort);
      };
      this.finalJobs.on(id, onFinal);
      this.pendingWaits.add(onGiveUp);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    // The caller may return before awaiting `reached`: its rejection must not count as unhandled.
    reached.catch(() => undefined);
    return { reached, stop };
  }

  async dismiss(id: string): Promise<JobRecord | undefined> {
    const job = await this.store.get(id);
    if (!job) return undefined;
    if (job.status === 'dismissed') return job;
    this.queue = this.queue.filter((queued) => queued !== id);
    const run = this.running.get(id);
    if (run) {
      run.controller.abort(new JobDismissedError());
      await settleWithin(run.settled, ABORT_GRACE_MS);
    }
    this.callbacks.jobEnded(id);
    await removeJobOutputs(this.options.outputDir, id);
    const dismissed = await this.store.update(id, dismissalPatch(job));
    if (dismissed) this.finalJobs.emit(id, dismissed);
    return dismissed;
  }

  /** Stops taking jobs, aborts the running ones (they stay `running` on disk and re-run at the next start). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    const runs = [...this.running.values()];
    for (const run of runs) run.controller.abort(new BackendClosingError());
    await settleWithin(Promise.all(runs.map((run) => run.settled)), ABORT_GRACE_MS);
    await this.units.close();
    await this.callbacks.close();
    for (const giveUp of [...this.pendingWaits]) giveUp(new Error('the job backend is closed'));
    this.releaseDataDir();
  }

  /** The job store itself failed while running a job: try not to leave the job `running` forever. */
  private async markBroken(id: string, error: unknown): Promise<void> {
    console.error(`job ${id} could not be run: ${String(error)}`);
    const detail = `the server could not run the job: ${error instanceof Error ? error.message : String(error)}`;
    const failed = await this.store
      .update(id, { status: 'failed', message: `Job failed: ${detail}`, exception: { type: 'NoApplicableCode', title: 'Job execution failed', status: 500, detail } })
      .catch(() => undefined);
    if (failed) this.finalJobs.emit(id, failed);
  }

  /** Interrupted jobs go back to `accepted`; then every accepted job is queued, oldest first. */
  private async requeueUnfinished(): Promise<void> {
    for (const id of this.store.idsWithStatus('running')) {
      await removeJobOutputs(this.options.outputDir, id);
      await this.store.update(id, { status: 'accepted', message: 'Queued again: a server restart interrupted the job' });
    }
    this.queue.push(...this.store.idsWithStatus('accepted'));
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.queue.length > 0) {
      const id = this.queue.shift()!;
      const controller = new AbortController();
      const settled = this.execute(id, controller.signal).finally(() => {
        this.running.delete(id);
        this.pump();
      });
      this.running.set(id, { controller, settled });
    }
  }

  private async execute(id: string, signal: AbortSignal): Promise<void> {
    try {
      const job = await this.store.get(id);
      if (!job || job.status !== 'accepted') return;
      const record = await runJob(job, {
        store: this.store,
        registry: this.options.registry,
        outputRoot: this.options.outputDir,
        signal,
        map: this.units.mapper,
        callbacks: this.callbacks,
        progressIntervalMs: this.options.progressIntervalMs,
        log: (message) => console.warn(message),
      });
      // A dismissed job is announced by dismiss itself.
      if (record && isFinal(record) && record.status !== 'dismissed') this.finalJobs.emit(id, record);
    } catch (error) {
      await this.markBroken(id, error);
    }
  }
}
