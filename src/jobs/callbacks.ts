import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessOutputs } from '../ogc/process';
import type { JobRecord } from './types';

/** OGC statusInfo of a job, without links (the callback receiver has no use for them). */
export interface StatusInfo {
  jobID: string;
  processID: string;
  type: 'process';
  status: JobRecord['status'];
  message?: string;
  created: string;
  started?: string;
  finished?: string;
  updated: string;
  progress: number;
}

export function statusInfoOf(job: JobRecord): StatusInfo {
  return {
    jobID: job.id,
    processID: job.processId,
    type: job.type,
    status: job.status,
    message: job.message,
    created: job.created,
    started: job.started,
    finished: job.finished,
    updated: job.updated,
    progress: Math.round(job.progress),
  };
}

function absoluteHref(value: unknown, publicUrl: string): unknown {
  if (Array.isArray(value)) return value.map((item) => absoluteHref(item, publicUrl));
  if (value && typeof value === 'object' && typeof (value as { href?: unknown }).href === 'string') {
    const href = (value as { href: string }).href;
    if (href.startsWith('/')) return { ...value, href: publicUrl.replace(/\/+$/, '') + href };
  }
  return value;
}

/** The results document: top level keyed by output id, only the requested outputs when the request named some. */
export function resultsDocumentOf(job: JobRecord, publicUrl?: string): ProcessOutputs {
  const requested = job.request.outputs && Object.keys(job.request.outputs);
  const document: ProcessOutputs = {};
  for (const [id, value] of Object.entries(job.results ?? {})) {
    if (requested && requested.length > 0 && !requested.includes(id)) continue;
    document[id] = publicUrl ? absoluteHref(value, publicUrl) : value;
  }
  return document;
}

export interface CallbackOptions {
  /** Base URL of the API, used to turn job-relative file hrefs into absolute ones. */
  publicUrl?: string;
  maxAttempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** No retry starts once this much time has passed since the first attempt. */
  maxTotalMs?: number;
  requestTimeoutMs?: number;
  /** Minimum time between two in-progress notifications of one job. */
  progressIntervalMs?: number;
  log?: (message: string) => void;
}

interface ProgressChannel {
  uri: string;
  latest?: StatusInfo;
  sending: boolean;
  timer?: NodeJS.Timeout;
  lastSentAt: number;
}

/** Retryable: network errors, timeouts, 408, 429 and 5xx. Other 4xx answers are final. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Sends subscriber callbacks. Fire-and-forget: every method returns at once, deliveries retry with exponential
 * backoff in the background and failures are only logged, so a job never waits for or fails because of a receiver.
 */
export class CallbackDispatcher {
  private readonly options: Required<Omit<CallbackOptions, 'publicUrl'>> & { publicUrl?: string };
  private readonly inFlight = new Set<Promise<void>>();
  private readonly progressChannels = new Map<string, ProgressChannel>();
  private readonly closing = new AbortController();

  constructor(options: CallbackOptions = {}) {
    this.options = {
      maxAttempts: 6,
      initialDelayMs: 500,
      maxDelayMs: 10_000,
      maxTotalMs: 60_000,
      requestTimeoutMs: 10_000,
      progressIntervalMs: 1_000,
      log: (message) => console.warn(message),
      ...options,
    };
  }

  jobStarted(job: JobRecord): void {
    this.jobProgressed(job);
  }

  /** Throttled: at most one in-progress POST per interval per job, always carrying the newest status. */
  jobProgressed(job: JobRecord): void {
    const uri = job.request.subscriber?.inProgressUri;
    if (!uri || this.closing.signal.aborted) return;
    let channel = this.progressChannels.get(job.id);
    if (!channel) {
      channel = { uri, sending: false, lastSentAt: 0 };
      this.progressChannels.set(job.id, channel);
    }
    channel.latest = statusInfoOf(job);
    this.scheduleProgress(channel);
  }

  jobSucceeded(job: JobRecord): void {
    this.stopProgress(job.id);
    const uri = job.request.subscriber?.successUri;
    if (uri) this.track(this.deliver(uri, resultsDocumentOf(job, this.options.publicUrl)));
  }

  jobFailed(job: JobRecord): void {
    this.stopProgress(job.id);
    const uri = job.request.subscriber?.failedUri;
    const exception = job.exception ?? { type: 'NoApplicableCode', detail: job.message };
    if (uri) this.track(this.deliver(uri, exception));
  }

  /** Ends the in-progress channel of a job that will not report again (dismissed, interrupted). */
  jobEnded(jobId: string): void {
    this.stopProgress(jobId);
  }

  /** Resolves once every delivery started so far has succeeded or given up. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0 || [...this.progressChannels.values()].some((c) => c.timer || c.sending)) {
      await Promise.all([...this.inFlight]);
      if (this.inFlight.size === 0) await sleep(10);
    }
  }

  /** Abandons pending retries and waits for in-flight requests to stop. */
  async close(): Promise<void> {
    this.closing.abort();
    for (const jobId of [...this.progressChannels.keys()]) this.stopProgress(jobId);
    await Promise.all([...this.inFlight]);
  }

  private scheduleProgress(channel: ProgressChannel): void {
    if (channel.sending || channel.timer || !channel.latest) return;
    const wait = channel.lastSentAt + this.options.progressIntervalMs - Date.now();
    if (wait > 0) {
      channel.timer = setTimeout(() => {
        channel.timer = undefined;
        this.scheduleProgress(channel);
      }, wait);
      return;
    }
    const body = channel.latest;
    channel.latest = undefined;
    channel.sending = true;
    this.track(
      this.deliver(channel.uri, body).finally(() => {
        channel.sending = false;
        channel.lastSentAt = Date.now();
        this.scheduleProgress(channel);
      }),
    );
  }

  private stopProgress(jobId: string): void {
    const channel = this.progressChannels.get(jobId);
    if (!channel) return;
    clearTimeout(channel.timer);
    channel.timer = undefined;
    channel.latest = undefined;
    this.progressChannels.delete(jobId);
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  private async deliver(uri: string, body: unknown): Promise<void> {
    if (!/^https?:\/\//i.test(uri)) {
      this.options.log(`callback ${uri} skipped: only http(s) URIs are supported`);
      return;
    }
    const firstAttemptAt = Date.now();
    let lastProblem = '';
    for (let attempt = 1; attempt <= this.options.maxAttempts && !this.closing.signal.aborted; attempt++) {
      const outcome = await this.post(uri, body);
      if (outcome === 'delivered' || outcome === 'rejected') {
        if (outcome === 'rejected') this.options.log(`callback ${uri} rejected; not retried`);
        return;
      }
      lastProblem = outcome;
      const delay = Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** (attempt - 1));
      if (Date.now() + delay - firstAttemptAt > this.options.maxTotalMs) break;
      if (attempt < this.options.maxAttempts) {
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => undefined);
      }
    }
    this.options.log(`callback ${uri} not delivered: ${lastProblem || 'closed'}`);
  }

  /** 'delivered', 'rejected' (a 4xx that retrying will not fix) or a description of a retryable problem. */
  private async post(uri: string, body: unknown): Promise<string> {
    try {
      const response = await fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([AbortSignal.timeout(this.options.requestTimeoutMs), this.closing.signal]),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return 'delivered';
      return isRetryableStatus(response.status) ? `HTTP ${response.status}` : 'rejected';
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
}
