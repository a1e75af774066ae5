/**
 * Tile decoding on worker threads. Compressed bytes go to the threads and decoded samples come back by
 * transfer (no copy); each thread decodes with the same synchronous `decodeTile` the caller would use.
 */
import { availableParallelism } from 'node:os';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { decodeTile, type DecodedTile, type TileLayout } from './codecs';

interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  layout: TileLayout;
}

type DecodeReply = { id: number; ok: true; samples: DecodedTile } | { id: number; ok: false; message: string };

interface BootstrapData {
  decodePoolWorker: true;
  poolModule: string;
  tsxApi?: string;
}

/** Plain JS entry of a thread: under tsx or ts-jest the module is TypeScript, so tsx's hook comes first. */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.tsxApi) require(workerData.tsxApi).register();
require(workerData.poolModule).serveDecoding();
`;

/** A copy in fresh memory (Buffer's `slice` would share memory, so the typed array constructors copy). */
function copyOf<T extends DecodedTile>(array: T): T {
  if (array instanceof Uint8Array) return new Uint8Array(array) as T;
  if (array instanceof Uint16Array) return new Uint16Array(array) as T;
  if (array instanceof Int16Array) return new Int16Array(array) as T;
  return new Float32Array(array) as T;
}

/** An array whose ArrayBuffer it alone spans can be transferred; others (pooled, shared, larger) are copied. */
function ownedArray<T extends DecodedTile>(array: T): T {
  const spansBuffer = array.byteOffset === 0 && array.byteLength === array.buffer.byteLength;
  return spansBuffer && array.buffer instanceof ArrayBuffer ? array : copyOf(array);
}

/** Thread side: decodes each request and transfers the samples back. */
export function serveDecoding(): void {
  const port = parentPort;
  if (!port || !(workerData as BootstrapData | undefined)?.decodePoolWorker) throw new Error('serveDecoding runs in a decode pool thread');
  port.on('message', ({ id, bytes, layout }: DecodeRequest) => {
    try {
      const samples = ownedArray(decodeTile(bytes, layout));
      port.postMessage({ id, ok: true, samples } satisfies DecodeReply, [samples.buffer as ArrayBuffer]);
    } catch (error) {
      port.postMessage({ id, ok: false, message: error instanceof Error ? error.message : String(error) } satisfies DecodeReply);
    }
  });
}

interface PendingDecode {
  resolve(samples: DecodedTile): void;
  reject(error: Error): void;
}

interface PoolThread {
  worker: Worker;
  pending: Map<number, PendingDecode>;
}

export class DecodePool {
  private readonly threads: PoolThread[] = [];
  private nextId = 0;
  private closed = false;

  constructor(readonly size = availableParallelism()) {
    const typescript = __filename.endsWith('.ts');
    const data: BootstrapData = { decodePoolWorker: true, poolModule: __filename, tsxApi: typescript ? require.resolve('tsx/cjs/api') : undefined };
    for (let i = 0; i < Math.max(1, size); i++) this.threads.push(this.startThread(data));
  }

  private startThread(data: BootstrapData): PoolThread {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: data });
    const thread: PoolThread = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (reply: DecodeReply) => {
      const pending = thread.pending.get(reply.id);
      if (!pending) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) worker.unref();
      if (reply.ok) pending.resolve(reply.samples);
      else pending.reject(new Error(reply.message));
    });
    worker.on('error', (error) => this.failAll(thread, error));
    worker.on('exit', (code) => this.failAll(thread, new Error(`decode thread exited with code ${code}`)));
    return thread;
  }

  private failAll(thread: PoolThread, error: Error): void {
    for (const pending of thread.pending.values()) pending.reject(error);
    thread.pending.clear();
  }

  /**
   * Decodes one tile on the least busy thread. The ArrayBuffer of `bytes` is transferred (and so detached
   * here) when `bytes` spans all of it; a view into a larger or shared buffer is copied instead.
   */
  decode(bytes: Uint8Array, layout: TileLayout): Promise<DecodedTile> {
    if (this.closed) return Promise.reject(new Error('decode pool closed'));
    const thread = this.threads.reduce((best, candidate) => (candidate.pending.size < best.pending.size ? candidate : best));
    const id = this.nextId++;
    const owned = ownedArray(bytes);
    return new Promise<DecodedTile>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      if (thread.pending.size === 1) thread.worker.ref();
      thread.worker.postMessage({ id, bytes: owned, layout } satisfies DecodeRequest, [owned.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
  }
}
