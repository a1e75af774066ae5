import http from 'node:http';
import https from 'node:https';
import { abortError, sleep } from '../abort';

/** A byte range of a remote file: `length` bytes from `offset`. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** Transfer counters; a caller may pass its own to count one operation, the client also keeps totals. */
export interface TransferStats {
  requests: number;
  bytesRead: number;
  retries: number;
}

export function emptyStats(): TransferStats {
  return { requests: 0, bytesRead: 0, retries: 0 };
}

export interface RangeClientOptions {
  /** Concurrent requests (and pooled keep-alive sockets) per host. */
  maxConnectionsPerHost?: number;
  /** Ranges whose gap is at most this many bytes are fetched in one request. */
  mergeGapBytes?: number;
  /** A merged request is not grown beyond this size, so large reads stream in parallel pieces. */
  maxMergedBytes?: number;
  maxRetries?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Per-attempt inactivity timeout of a request. */
  timeoutMs?: number;
  /**
   * Called once when a URL answers 403 (for example an expired signed URL); returns the URL to retry with,
   * or undefined to give up. Later requests for the original URL use the returned one.
   */
  onForbidden?: (url: string) => Promise<string | undefined> | string | undefined;
}

export interface ReadOptions {
  signal?: AbortSignal;
  stats?: TransferStats;
}

export class HttpStatusError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`HTTP ${status} for ${url}`);
    this.name = 'HttpStatusError';
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** An error worth retrying: the attempt failed for a reason that may be transient. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

const RETRYABLE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);
const RETRYABLE_MESSAGES = /socket hang up|other side closed|aborted|premature close/i;

function isRetryableNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (error.name === 'AbortError') return false;
  return (code !== undefined && RETRYABLE_SOCKET_CODES.has(code)) || RETRYABLE_MESSAGES.test(error.message);
}

/** Retry-After in milliseconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A FIFO counting semaphore. */
class Semaphore {
  private readonly waiting: (() => void)[] = [];
  private active = 0;

  constructor(private readonly limit: number) {}

  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(abortError(signal!));
      };
      if (signal?.aborted) return reject(abortError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** Groups of ranges that are fetched together: sorted by offset, gaps ≤ `gap`, each group ≤ `maxBytes` (unless one range alone is larger). */
export function planMergedRanges(ranges: readonly ByteRange[], gap: number, maxBytes: number): { span: ByteRange; members: number[] }[] {
  const order = ranges.map((_, index) => index).sort((a, b) => ranges[a].offset - ranges[b].offset);
  const groups: { span: ByteRange; members: number[] }[] = [];
  for (const index of order) {
    const { offset, length } = ranges[index];
    const last = groups[groups.length - 1];
    if (last) {
      const lastEnd = last.span.offset + last.span.length;
      const newEnd = Math.max(lastEnd, offset + length);
      if (offset - lastEnd <= gap && newEnd - last.span.offset <= maxBytes) {
        last.span.length = newEnd - last.span.offset;
        last.members.push(index);
        continue;
      }
    }
    groups.push({ span: { offset, length }, members: [index] });
  }
  return groups;
}

/**
 * HTTP range reader: pooled keep-alive connections with bounded concurrency per host, merging of near ranges,
 * retries with exponential backoff and jitter on 429/5xx (honouring Retry-After) and broken connections, a
 * 403 hook for refreshing signed URLs, and an AbortSignal on every read.
 */
export class RangeClient {
  readonly stats: TransferStats = emptyStats();
  readonly mergeGapBytes: number;
  private readonly maxMergedBytes: number;
  private readonly maxConnections: number;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly onForbidden?: RangeClientOptions['onForbidden'];
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly hostSlots = new Map<string, Semaphore>();
  /** Original URL → URL returned by onForbidden. */
  private readonly replacedUrls = new Map<string, string>();
  private readonly pendingRefreshes = new Map<string, Promise<string | undefined>>();

  constructor(options: RangeClientOptions = {}) {
    this.maxConnections = options.maxConnectionsPerHost ?? 8;
    this.mergeGapBytes = options.mergeGapBytes ?? 64 * 1024;
    this.maxMergedBytes = options.maxMergedBytes ?? 8 * 1024 * 1024;
    this.maxRetries = options.maxRetries ?? 5;
    this.baseDelayMs = options.retryBaseDelayMs ?? 200;
    this.maxDelayMs = options.retryMaxDelayMs ?? 20_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.onForbidden = options.onForbidden;
    const agentOptions = { keepAlive: true, maxSockets: this.maxConnections, maxFreeSockets: this.maxConnections, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  /** One range; the result may be shorter than asked at the end of the file. */
  async read(url: string, range: ByteRange, options: ReadOptions = {}): Promise<Uint8Array> {
    const slots = this.slotsFor(url);
    await slots.acquire(options.signal);
    try {
      return await this.readWithRetries(url, range, options);
    } finally {
      slots.release();
    }
  }

  /**
   * Many ranges, near ones merged into one request. Returns one promise per range (in input order) that resolves
   * as soon as its request completes, so callers can process data while other requests are in flight.
   * The results are views into the merged response buffers (no copies).
   */
  readRanges(url: string, ranges: readonly ByteRange[], options: ReadOptions = {}): Promise<Uint8Array>[] {
    const results = new Array<Promise<Uint8Array>>(ranges.length);
    for (const { span, members } of planMergedRanges(ranges, this.mergeGapBytes, this.maxMergedBytes)) {
      const response = this.read(url, span, options);
      for (const index of members) {
        const { offset, length } = ranges[index];
        results[index] = response.then((bytes) => bytes.subarray(offset - span.offset, offset - span.offset + length));
      }
    }
    // Callers may stop awaiting after the first failure; keep the others from surfacing as unhandled rejections.
    for (const result of results) result.catch(() => undefined);
    return results;
  }

  /** Closes pooled sockets. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private slotsFor(url: string): Semaphore {
    const host = new URL(url).host;
    let slots = this.hostSlots.get(host);
    if (!slots) {
      slots = new Semaphore(this.maxConnections);
      this.hostSlots.set(host, slots);
    }
    return slots;
  }

  private async readWithRetries(originalUrl: string, range: ByteRange, options: ReadOptions): Promise<Uint8Array> {
    let forbiddenHandled = false;
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw abortError(options.signal);
      const url = this.replacedUrls.get(originalUrl) ?? originalUrl;
      try {
        const response = await this.request(url, range, options);
        if (response.status === 403 && this.onForbidden && !forbiddenHandled) {
          forbiddenHandled = true;
          const replacement = await this.refreshUrl(originalUrl, url);
          if (replacement) {
            attempt--;
            continue;
          }
        }
        return this.bodyOf(url, range, response);
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        if (attempt >= this.maxRetries) throw error.status ? new HttpStatusError(url, error.status) : error;
        this.stats.retries++;
        if (options.stats) options.stats.retries++;
        await sleep(error.retryAfterMs ?? this.backoffDelay(attempt), options.signal);
      }
    }
  }

  /** Calls onForbidden once per failing URL, shared by concurrent requests that hit the same 403. */
  private refreshUrl(originalUrl: string, failedUrl: string): Promise<string | undefined> {
    let pending = this.pendingRefreshes.get(failedUrl);
    if (!pending) {
      pending = Promise.resolve(this.onForbidden!(failedUrl)).then((replacement) => {
        if (replacement) this.replacedUrls.set(originalUrl, replacement);
        return replacement;
      });
      this.pendingRefreshes.set(failedUrl, pending);
    }
    return pending;
  }

  /** Exponential backoff with "equal jitter": half fixed, half random. */
  private backoffDelay(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private bodyOf(url: string, range: ByteRange, response: RawResponse): Uint8Array {
    const { status, body } = response;
    // Plain Uint8Array views, not Buffers: Buffer#slice shares memory where Uint8Array#slice copies.
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    if (status === 206) return bytes;
    if (status === 200) return bytes.subarray(range.offset, range.offset + range.length);
    if (status === 416) return new Uint8Array(0);
    throw new HttpStatusError(url, status);
  }

  private request(url: string, range: ByteRange, options: ReadOptions): Promise<RawResponse> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const transport = secure ? https : http;
    return new Promise<RawResponse>((resolve, reject) => {
      const request = transport.request(
        target,
        {
          method: 'GET',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: { Range: `bytes=${range.offset}-${range.offset + range.length - 1}`, 'Accept-Encoding': 'identity' },
          signal: options.signal,
          timeout: this.timeoutMs,
        },
        (response) => {
          const status = response.statusCode ?? 0;
          this.countRequest(options.stats);
          if (status === 429 || status >= 500) {
            response.resume();
            const retryAfter = parseRetryAfter(response.headers['retry-after'] as string | undefined);
            reject(new RetryableError(`HTTP ${status} for ${url}`, retryAfter, status));
            return;
          }
          this.collectBody(response, status, options.stats, resolve, reject);
        },
      );
      request.on('timeout', () => request.destroy(new RetryableError(`timeout after ${this.timeoutMs} ms for ${url}`)));
      request.on('error', (error) => {
        if (error instanceof RetryableError) reject(error);
        else if (options.signal?.aborted) reject(abortError(options.signal));
        else if (isRetryableNetworkError(error)) reject(new RetryableError(`${error.message} (${url})`));
        else reject(error);
      });
      request.end();
    });
  }

  /** Reads the body into one buffer, sized from Content-Length when known; a short body counts as a broken connection. */
  private collectBody(
    response: http.IncomingMessage,
    status: number,
    stats: TransferStats | undefined,
    resolve: (value: RawResponse) => void,
    reject: (error: Error) => void,
  ): void {
    const declared = Number(response.headers['content-length']);
    const knownLength = Number.isFinite(declared) && declared >= 0;
    const chunks: Buffer[] = [];
    let received = 0;
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    response.on('error', (error) => reject(isRetryableNetworkError(error) ? new RetryableError(error.message) : error));
    response.on('aborted', () => reject(new RetryableError('connection closed mid-response')));
    response.on('end', () => {
      if (!response.complete || (knownLength && received !== declared)) {
        reject(new RetryableError(`connection closed after ${received} of ${declared} bytes`));
        return;
      }
      this.countBytes(received, stats);
      resolve({ status, headers: response.headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received) });
    });
  }

  private countRequest(stats?: TransferStats): void {
    this.stats.requests++;
    if (stats) stats.requests++;
  }

  private countBytes(bytes: number, stats?: TransferStats): void {
    this.stats.bytesRead += bytes;
    if (stats) stats.bytesRead += bytes;
  }
}

let sharedClient: RangeClient | undefined;

/** The process-wide client used when a caller passes none. */
export function defaultRangeClient(): RangeClient {
  sharedClient ??= new RangeClient();
  return sharedClient;
}
