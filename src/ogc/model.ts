/** The framework-free request and response models of the OGC API layer (the HTTP adapter translates them). */
import type { Readable } from 'node:stream';

export type QueryValue = string | string[] | undefined;
export type HeaderValue = string | string[] | undefined;

export interface ApiRequest {
  /** Absolute base URL of the API without a trailing slash, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  method: string;
  /** Path of the request, e.g. `/processes/echo` (without the query string). */
  path: string;
  params: Record<string, string>;
  query: Record<string, QueryValue>;
  /** Lower-case header names. */
  headers: Record<string, HeaderValue>;
  body?: unknown;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
}

/** Names of the HTML pages the adapter can render from a JSON body. */
export type HtmlView = 'landing' | 'conformance' | 'processes' | 'process' | 'jobs' | 'job' | 'results' | 'exception';

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /** A JSON body (serialized by the adapter unless `payload` is given). */
  json?: unknown;
  /** A body already serialized (for JSON responses: the serialized `json`). */
  payload?: Buffer | string;
  stream?: Readable;
  /** When set, the JSON body can also be rendered as this HTML page. */
  view?: HtmlView;
  /**
   * The response depends only on the base URL and the request URL, for the life of the server (the process
   * catalog, landing page, conformance, OpenAPI document): the adapter may replay it without asking again.
   */
  immutable?: boolean;
}

export function jsonResponse(json: unknown, status = 200, view?: HtmlView, headers: Record<string, string | string[]> = {}): ApiResponse {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, json, view };
}

export function firstHeader(headers: Record<string, HeaderValue>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The absolute URL of the request, query included. */
export function requestUrl(request: Pick<ApiRequest, 'baseUrl' | 'path' | 'query'>): string {
  const url = new URL(request.baseUrl + request.path);
  for (const [name, value] of Object.entries(request.query)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) url.searchParams.append(name, item);
  }
  return url.toString();
}
