import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import type { MapOptions, ProcessPlugin, UnitContext } from '../ogc/process';
import { loadPlugin, type ProcessRegistry } from '../ogc/registry';
import { jobOutputStore } from './output-store';
import { checkMapOptions, type UnitMapRequest, type UnitMapper } from './runner';
import { abortError } from '../abort';

type UnitFunction = NonNullable<ProcessPlugin['units']>[string];

function unitOf(plugin: ProcessPlugin | undefined, processId: string, unit: string): UnitFunction {
  const run = plugin?.units?.[unit];
  if (!run) throw new Error(`process ${processId} has no unit ${unit}`);
  return run;
}

/** Runs one unit function in the calling thread: what a worker (thread or BullMQ worker process) does per unit. */
export async function runUnit(
  registry: ProcessRegistry,
  processId: string,
  unit: string,
  payload: unknown,
  ctx: UnitContext,
): Promise<unknown> {
  return unitOf(registry.get(processId), processId, unit)(payload, ctx);
}

interface UnitTaskMessage {
  processId: string;
  modulePath: string;
  unit: string;
  payload: unknown;
  jobId: string;
  outputRoot: string;
}

type UnitReply = { ok: true; result: unknown } | { ok: false; error: { name: string; message: string; stack?: string } };

interface BootstrapData {
  unitPoolWorker: true;
  poolModule: string;
  tsxApi?: string;
}

/**
 * The worker thread's entry (plain JS, evaluated): TypeScript modules (under tsx or ts-jest) need tsx's
 * require hook registered in the thread before this file or a process module can be loaded.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.tsxApi) require(workerData.tsxApi).register();
require(workerData.poolModule).serveUnits();
`;

function bootstrapData(): BootstrapData {
  const typescript = __filename.endsWith('.ts');
  return { unitPoolWorker: true, poolModule: __filename, tsxApi: typescript ? require.resolve('tsx/cjs/api') : undefined };
}

function failureReply(error: unknown): UnitReply {
  const failure = error instanceof Error ? error : new Error(String(error));
  return { ok: false, error: { name: failure.name, message: failure.message, stack: failure.stack } };
}

/** Worker-thread side: runs one unit per message and replies with its result or error. */
export function serveUnits(): void {
  const port = parentPort;
  if (!port || !(workerData as BootstrapData | undefined)?.unitPoolWorker) throw new Error('serveUnits runs in a unit pool worker');
  let tsxRegistered = Boolean((workerData as BootstrapData).tsxApi);
  const plugins = new Map<string, ProcessPlugin>();
  const pluginAt = (modulePath: string): ProcessPlugin => {
    let plugin = plugins.get(modulePath);
    if (!plugin) {
      if (modulePath.endsWith('.ts') && !tsxRegistered) {
        require('tsx/cjs/api').register();
        tsxRegistered = true;
      }
      plugin = loadPlugin(path.dirname(modulePath));
      plugins.set(modulePath, plugin);
    }
    return plugin;
  };
  port.on('message', async (task: UnitTaskMessage) => {
    let reply: UnitReply;
    try {
      const run = unitOf(pluginAt(task.modulePath), task.processId, task.unit);
      // The pool terminates the thread to cancel a unit, so this signal never needs to fire.
      const ctx: UnitContext = { jobId: task.jobId, signal: new AbortController().signal, store: jobOutputStore(task.outputRoot, task.jobId) };
      reply = { ok: true, result: await run(task.payload, ctx) };
    } catch (error) {
      reply = failureReply(error);
    }
    try {
      port.postMessage(reply);
    } catch (error) {
      // A result that cannot be cloned fails the unit instead of crashing the thread.
      port.postMessage(failureReply(error));
    }
  });
}

interface Affinity {
  batch: Batch;
  group: string;
  fromBack: boolean;
}

/** One `map` call: its units share the fate of the first failure or of the job's abort. */
interface Batch {
  done: boolean;
}

interface QueuedUnit {
  batch: Batch;
  message: UnitTaskMessage;
  succeed(result: unknown): void;
  fail(error: Error): void;
}

function errorFromReply(error: { name: string; message: string; stack?: string }): Error {
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  if (error.stack) rebuilt.stack = error.stack;
  return rebuilt;
}

export interface UnitPoolOptions {
  registry: ProcessRegistry;
  outputRoot: string;
  /** Worker threads, shared by all jobs. Default: number of CPUs. */
  size?: number;
}

/**
 * The embedded implementation of `ctx.map`: a pool of worker threads shared by all jobs, each loading process
 * modules by path. Cancelling a batch (abort or first failure) drops its queued units and terminates the threads
 * busy with it, so CPU-bound units stop at once; replacements start on demand.
 */
export class UnitPool {
  readonly size: number;
  private readonly workers = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, QueuedUnit>();
  /** Threads being terminated after a cancel; close waits for them. */
  private readonly terminating = new Set<Promise<number>>();
  /** Waiting units per batch, by locality group; batches take turns so one big job does not hold back the others. */
  private readonly waiting = new Map<Batch, Map<string, QueuedUnit[]>>();
  /** The group each thread took its last unit from, and from which end of it. */
  private readonly affinity = new Map<Worker, Affinity>();
  private closed = false;

  constructor(private readonly options: UnitPoolOptions) {
    this.size = Math.max(1, options.size ?? availableParallelism());
  }

  /** Number of live worker threads (idle or busy). */
  get threadCount(): number {
    return this.workers.size;
  }

  /** The `UnitMapper` a runner needs. */
  readonly mapper: UnitMapper = (request) => (unit, payloads, onUnitDone, options) => this.map(request, unit, payloads, onUnitDone, options);

  map<P, R>(
    request: UnitMapRequest,
    unit: string,
    payloads: P[],
    onUnitDone?: (index: number, result: R) => void,
    options: MapOptions = {},
  ): Promise<R[]> {
    return new Promise<R[]>((resolve, reject) => {
      if (this.closed) throw new Error('unit pool closed');
      checkMapOptions(payloads.length, options);
      request.signal.throwIfAborted();
      unitOf(this.options.registry.get(request.processId), request.processId, unit);
      const modulePath = this.options.registry.moduleOf(request.processId);
      const results = new Array<R>(payloads.length);
      let remaining = payloads.length;
      const batch: Batch = { done: false };
      const onAbort = (): void => settle(abortError(request.signal));
      const settle = (error?: Error): void => {
        if (batch.done) return;
        batch.done = true;
        request.signal.removeEventListener('abort', onAbort);
        if (!error) return resolve(results);
        this.cancel(batch);
        reject(error);
      };
      if (remaining === 0) return settle();
      request.signal.addEventListener('abort', onAbort, { once: true });
      const queued = new Map<string, QueuedUnit[]>();
      this.waiting.set(batch, queued);
      payloads.forEach((payload, index) => {
        // Ungrouped units are groups of one, taken in order (their keys cannot meet a caller's: all or none are given).
        const group = options.groups ? options.groups[index] : `#${index}`;
        if (!queued.has(group)) queued.set(group, []);
        queued.get(group)!.push({
          batch,
          message: { processId: request.processId, modulePath, unit, payload, jobId: request.jobId, outputRoot: this.options.outputRoot },
          succeed: (result) => {
            if (batch.done) return;
            results[index] = result as R;
            try {
              onUnitDone?.(index, result as R);
            } catch (error) {
              return settle(error instanceof Error ? error : new Error(String(error)));
            }
            if (--remaining === 0) settle();
          },
          fail: (error) => settle(error),
        });
      });
      this.dispatch();
    });
  }

  /** Terminates every thread; queued and running units fail. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new Error('unit pool closed');
    const units = [...[...this.waiting.values()].flatMap((groups) => [...groups.values()].flat()), ...this.busy.values()];
    this.waiting.clear();
    this.busy.clear();
    this.idle.length = 0;
    const workers = [...this.workers];
    this.workers.clear();
    for (const unit of units) unit.fail(error);
    await Promise.all([...workers.map((worker) => worker.terminate()), ...this.terminating]);
  }

  private cancel(batch: Batch): void {
    this.waiting.delete(batch);
    for (const [worker, unit] of this.busy) {
      if (unit.batch !== batch) continue;
      this.busy.delete(worker);
      this.workers.delete(worker);
      this.affinity.delete(worker);
      const exited = worker.terminate();
      this.terminating.add(exited);
      void exited.finally(() => this.terminating.delete(exited));
    }
    this.dispatch();
  }

  private dispatch(): void {
    while (!this.closed && this.waiting.size > 0) {
      const worker = this.idle.pop() ?? (this.workers.size < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const unit = this.nextUnit(worker);
      this.busy.set(worker, unit);
      worker.ref();
      worker.postMessage(unit.message);
    }
  }

  /**
   * Round robin over batches: the first batch gives one unit and moves to the back of the line. Fairness between
   * jobs comes first: with two batches waiting, a thread alternates between them and its affinity only holds
   * within each.
   */
  private nextUnit(worker: Worker): QueuedUnit {
    const [batch, groups] = this.waiting.entries().next().value as [Batch, Map<string, QueuedUnit[]>];
    const choice = this.groupFor(worker, batch, groups);
    const units = groups.get(choice.group)!;
    const unit = choice.fromBack ? units.pop()! : units.shift()!;
    if (units.length === 0) groups.delete(choice.group);
    this.affinity.set(worker, choice);
    this.waiting.delete(batch);
    if (groups.size > 0) this.waiting.set(batch, groups);
    return unit;
  }

  /**
   * The thread's previous group while it has units left; else the first group no other thread is on; else the
   * group with the most units left, from its back, so the two threads sharing it work from opposite ends.
   */
  private groupFor(worker: Worker, batch: Batch, groups: Map<string, QueuedUnit[]>): Affinity {
    const last = this.affinity.get(worker);
    if (last?.batch === batch && groups.has(last.group)) return last;
    const taken = new Set<string>();
    for (const busy of this.busy.keys()) {
      const other = this.affinity.get(busy);
      if (other?.batch === batch) taken.add(other.group);
    }
    let largest = '';
    let largestSize = 0;
    for (const [group, units] of groups) {
      if (!taken.has(group)) return { batch, group, fromBack: false };
      if (units.length > largestSize) [largest, largestSize] = [group, units.length];
    }
    return { batch, group: largest, fromBack: true };
  }

  private spawn(): Worker {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: bootstrapData() });
    this.workers.add(worker);
    worker.on('message', (reply: UnitReply) => {
      const unit = this.busy.get(worker);
      this.busy.delete(worker);
      if (this.workers.has(worker)) {
        this.idle.push(worker);
        // An idle thread must not keep the process alive.
        worker.unref();
      }
      if (unit) {
        if (reply.ok) unit.succeed(reply.result);
        else unit.fail(errorFromReply(reply.error));
      }
      this.dispatch();
    });
    const lose = (error: Error): void => {
      this.affinity.delete(worker);
      if (!this.workers.delete(worker)) return;
      const index = this.idle.indexOf(worker);
      if (index >= 0) this.idle.splice(index, 1);
      const unit = this.busy.get(worker);
      this.busy.delete(worker);
      unit?.fail(error);
      this.dispatch();
    };
    worker.on('error', lose);
    worker.on('exit', (code) => lose(new Error(`unit worker exited with code ${code}`)));
    return worker;
  }
}
