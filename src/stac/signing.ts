import { fetchJson, type RequestOptions } from './http';

export const PLANETARY_COMPUTER_TOKEN_ENDPOINT = 'https://planetarycomputer.microsoft.com/api/sas/v1/token';
const PLANETARY_COMPUTER_HOST = 'planetarycomputer.microsoft.com';
/** A token is renewed this long before it expires, so a read started with it does not fail half-way. */
const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;
const MAX_REMEMBERED_HREFS = 50_000;

interface TokenResponse {
  token: string;
  'msft:expiry': string;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface SasSignerOptions extends Omit<RequestOptions, 'signal'> {
  tokenEndpoint?: string;
  /** The collection used when a call names none. */
  collection?: string;
  refreshMarginMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

/** True when a URL already carries a SAS signature (`sig` query parameter). */
export function hasSasSignature(href: string): boolean {
  try {
    return new URL(href).searchParams.has('sig');
  } catch {
    return false;
  }
}

function signatureOf(hrefOrToken: string): string | null {
  const query = hrefOrToken.includes('?') ? hrefOrToken.slice(hrefOrToken.indexOf('?') + 1) : hrefOrToken;
  return new URLSearchParams(query.split('#')[0]).get('sig');
}

function appendQuery(href: string, query: string): string {
  const [base, fragment] = href.split('#', 2);
  const separator = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${separator}${query}${fragment !== undefined ? `#${fragment}` : ''}`;
}

/**
 * Planetary Computer SAS signing: one token per collection from `{tokenEndpoint}/{collection}`, cached until
 * shortly before its `msft:expiry`; concurrent requests for the same collection share one token request.
 */
export class SasSigner {
  readonly tokenEndpoint: string;
  /** Number of token requests made, for tests and logs. */
  tokenRequests = 0;
  private readonly cache = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();
  /** Signed href → the unsigned href it was made from. */
  private readonly unsigned = new Map<string, string>();
  private readonly refreshMarginMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SasSignerOptions = {}) {
    this.tokenEndpoint = (options.tokenEndpoint ?? PLANETARY_COMPUTER_TOKEN_ENDPOINT).replace(/\/+$/, '');
    this.refreshMarginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.now = options.now ?? Date.now;
  }

  /** A valid token for the collection, from the cache unless it is missing or near expiry. */
  async token(collection = this.defaultCollection(), signal?: AbortSignal): Promise<string> {
    const cached = this.cache.get(collection);
    if (cached && this.now() < cached.expiresAt - this.refreshMarginMs) return cached.token;
    return (await this.fetchToken(collection, signal)).token;
  }

  /** Fetches a new token even if the cached one looks valid (after a 403). */
  async refresh(collection = this.defaultCollection(), signal?: AbortSignal): Promise<string> {
    this.cache.delete(collection);
    return (await this.fetchToken(collection, signal)).token;
  }

  /** The href with the collection's token appended; an href that is already signed is returned unchanged. */
  async signHref(href: string, collection = this.defaultCollection(), signal?: AbortSignal): Promise<string> {
    if (this.unsigned.has(href) || hasSasSignature(href)) return href;
    return this.sign(href, await this.token(collection, signal));
  }

  /** After a 403: renews the collection's token and returns the href (signed or not) signed with the new one. */
  async refreshHref(href: string, collection = this.defaultCollection(), signal?: AbortSignal): Promise<string> {
    const original = this.unsigned.get(href) ?? stripSas(href);
    const cached = this.cache.get(collection);
    // Many reads fail with the same stale token at once: the first renews it, the others use the renewal.
    const renewedSince = cached && signatureOf(cached.token) !== signatureOf(href) && this.now() < cached.expiresAt;
    return this.sign(original, renewedSince ? cached.token : await this.refresh(collection, signal));
  }

  /**
   * The raster reader's 403 hook for assets of one collection: renews the token and returns the URL signed
   * with it. The reader calls it once per URL.
   */
  forbiddenHandler(collection = this.defaultCollection()): (url: string) => Promise<string | undefined> {
    return (url) => this.refreshHref(url, collection);
  }

  private defaultCollection(): string {
    if (!this.options.collection) throw new Error('SasSigner: no collection given and no default collection configured');
    return this.options.collection;
  }

  private sign(href: string, token: string): string {
    const signed = appendQuery(href, token);
    this.unsigned.set(signed, href);
    // Shared signers live as long as the worker: forget the oldest hrefs (stripSas covers them if they come back).
    if (this.unsigned.size > MAX_REMEMBERED_HREFS) this.unsigned.delete(this.unsigned.keys().next().value as string);
    return signed;
  }

  private fetchToken(collection: string, signal?: AbortSignal): Promise<CachedToken> {
    const inFlight = this.pending.get(collection);
    if (inFlight) return inFlight;
    const request = this.requestToken(collection, signal).finally(() => this.pending.delete(collection));
    this.pending.set(collection, request);
    return request;
  }

  private async requestToken(collection: string, signal?: AbortSignal): Promise<CachedToken> {
    this.tokenRequests++;
    const url = `${this.tokenEndpoint}/${encodeURIComponent(collection)}`;
    const response = await fetchJson<TokenResponse>(url, { method: 'GET', headers: { accept: 'application/json' } }, { ...this.options, signal });
    if (typeof response.token !== 'string' || !response.token) throw new Error(`token endpoint ${url} answered without a token`);
    const expiresAt = Date.parse(response['msft:expiry']);
    const token = { token: response.token.replace(/^\?/, ''), expiresAt: Number.isNaN(expiresAt) ? this.now() + 45 * 60_000 : expiresAt };
    this.cache.set(collection, token);
    return token;
  }
}

/** SAS query parameters (Azure Blob service SAS and user-delegation SAS). */
const SAS_PARAMETERS = ['st', 'se', 'sp', 'sv', 'sr', 'sig', 'spr', 'sip', 'si', 'skoid', 'sktid', 'skt', 'ske', 'sks', 'skv', 'sdd', 'ses'];

/** The URL without SAS parameters (for a signed URL this signer did not produce). */
export function stripSas(href: string): string {
  const url = new URL(href);
  for (const name of SAS_PARAMETERS) url.searchParams.delete(name);
  return url.toString().replace(/\?$/, '');
}

/** What a work unit needs to sign hrefs of one collection: plain JSON, so it travels in a unit payload. */
export interface SigningConfig {
  tokenEndpoint: string;
  collection: string;
  refreshMarginMs?: number;
}

/**
 * Whether items of a STAC API need signing, and how: on for Planetary Computer, or whenever a token endpoint is
 * configured (argument, else env STAC_TOKEN_ENDPOINT, for mirrors and the test fixture); undefined otherwise.
 */
export function signingConfigFor(
  stacApi: string,
  collection: string,
  tokenEndpoint?: string,
  env: NodeJS.ProcessEnv = process.env,
): SigningConfig | undefined {
  const endpoint = tokenEndpoint ?? env.STAC_TOKEN_ENDPOINT;
  if (endpoint) return { tokenEndpoint: endpoint, collection };
  if (new URL(stacApi).hostname === PLANETARY_COMPUTER_HOST) return { tokenEndpoint: PLANETARY_COMPUTER_TOKEN_ENDPOINT, collection };
  return undefined;
}

/** Signers of this process, one per endpoint and collection, so work units of a worker share cached tokens. */
const sharedSigners = new Map<string, SasSigner>();

/**
 * The signer of a SigningConfig (shared within the process), or, given a STAC API URL, a new signer when that
 * API needs signing (see signingConfigFor) and undefined when it does not.
 */
export function signerFor(config: SigningConfig): SasSigner;
export function signerFor(stacApi: string, options?: SasSignerOptions, env?: NodeJS.ProcessEnv): SasSigner | undefined;
export function signerFor(target: SigningConfig | string, options: SasSignerOptions = {}, env: NodeJS.ProcessEnv = process.env): SasSigner | undefined {
  if (typeof target !== 'string') {
    const key = `${target.tokenEndpoint} ${target.collection}`;
    let signer = sharedSigners.get(key);
    if (!signer) {
      signer = new SasSigner({ tokenEndpoint: target.tokenEndpoint, refreshMarginMs: target.refreshMarginMs, collection: target.collection });
      sharedSigners.set(key, signer);
    }
    return signer;
  }
  const endpoint = options.tokenEndpoint ?? env.STAC_TOKEN_ENDPOINT;
  if (endpoint) return new SasSigner({ ...options, tokenEndpoint: endpoint });
  if (new URL(target).hostname === PLANETARY_COMPUTER_HOST) return new SasSigner({ ...options, tokenEndpoint: PLANETARY_COMPUTER_TOKEN_ENDPOINT });
  return undefined;
}
