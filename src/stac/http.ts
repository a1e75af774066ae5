import { parseRetryAfter } from '../raster/http-client';
import { abortError, sleep } from '../abort';

export type FetchLike = typeof fetch;

export interface RetryPolicy {
  /** Total attempts, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is cut to it, so a hostile header cannot park a job for hours. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 120_000 };

export interface RequestOptions {
  fetch?: FetchLike;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** Called before each wait, for logging and tests. */
  onRetry?: (attempt: number, delayMs: number, reason: string) => void;
}

/** A STAC API or token endpoint answered with an error, or could not be reached within the retry budget. */
export class StacHttpError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
    readonly bodyExcerpt?: string,
  ) {
    super(message);
    this.name = 'StacHttpError';
  }
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const EXCERPT_LENGTH = 300;

/** Full-jitter exponential backoff: uniform in [0, min(max, base·2^retry)]. */
export function backoffDelay(retry: number, policy: RetryPolicy, random = Math.random): number {
  return random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
}

async function excerpt(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  return text.length > EXCERPT_LENGTH ? `${text.slice(0, EXCERPT_LENGTH)}…` : text;
}

function isAbort(error: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (error instanceof Error && error.name === 'AbortError');
}

/**
 * fetch with bounded retries on 408/429/5xx and network errors: exponential backoff with full jitter, or the
 * server's Retry-After (seconds or HTTP date) when it sends one. Any other non-2xx answer fails at once.
 * Errors name the URL, the status and the start of the body.
 */
export async function fetchWithRetry(url: string, init: RequestInit, options: RequestOptions = {}): Promise<Response> {
  const policy = { ...DEFAULT_RETRY, ...options.retry };
  const fetchImpl = options.fetch ?? fetch;
  const label = `${init.method ?? 'GET'} ${url}`;
  for (let attempt = 1; ; attempt++) {
    let reason: string;
    let retryAfterMs: number | undefined;
    try {
      const response = await fetchImpl(url, { ...init, signal: options.signal });
      if (response.ok) return response;
      const body = await excerpt(response);
      if (!RETRYABLE_STATUS.has(response.status) || attempt >= policy.maxAttempts) {
        const tries = attempt > 1 ? ` after ${attempt} attempts` : '';
        throw new StacHttpError(`${label} failed with HTTP ${response.status}${tries}: ${body || '(empty body)'}`, url, response.status, body);
      }
      reason = `HTTP ${response.status}`;
      retryAfterMs = parseRetryAfter(response.headers.get('retry-after') ?? undefined);
    } catch (error) {
      if (error instanceof StacHttpError || isAbort(error, options.signal)) throw error;
      const message = error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error);
      if (attempt >= policy.maxAttempts) throw new StacHttpError(`${label} failed after ${attempt} attempts: ${message}`, url);
      reason = message;
    }
    const delay = retryAfterMs !== undefined ? Math.min(retryAfterMs, policy.maxRetryAfterMs) : backoffDelay(attempt - 1, policy);
    options.onRetry?.(attempt, delay, reason);
    await sleep(delay, options.signal);
  }
}

/** fetchWithRetry, then the body as JSON; a body that is not JSON is a StacHttpError. */
export async function fetchJson<T>(url: string, init: RequestInit, options: RequestOptions = {}): Promise<T> {
  const response = await fetchWithRetry(url, init, options);
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    const start = text.slice(0, EXCERPT_LENGTH);
    throw new StacHttpError(`${init.method ?? 'GET'} ${url} answered with a body that is not JSON: ${start}`, url, response.status, start);
  }
}
