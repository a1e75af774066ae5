/**
 * Express roughly halves the request rate Node reaches on its own. The most requested reads (process list,
 * process descriptions, landing page, conformance, OpenAPI) never change while the server runs, so once Express
 * has answered one with JSON, the exact bytes and headers are replayed for the same base URL and request URL
 * without going through Express again.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { baseUrlOf, prefersHtml } from './negotiation';

interface Replay {
  status: number;
  headers: OutgoingHttpHeaders;
  payload: Buffer;
}

/** Bounds memory when clients vary the Host header or the query string; the cache refills as it is used. */
const MAX_ENTRIES = 1024;

export class ReplayCache {
  private readonly entries = new Map<string, Replay>();

  constructor(private readonly publicUrl?: string) {}

  /** Answers the request from the cache; false when it has to go through Express. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const key = this.keyOf(req);
    const entry = key === undefined ? undefined : this.entries.get(key);
    if (!entry) return false;
    res.writeHead(entry.status, entry.headers);
    res.end(req.method === 'HEAD' ? undefined : entry.payload);
    return true;
  }

  /** Keeps the response being sent (headers already set on `res`) for the same request to come. */
  remember(req: IncomingMessage, res: ServerResponse, payload: Buffer | string): void {
    if (req.method !== 'GET') return;
    const key = this.keyOf(req);
    if (key === undefined) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { status: res.statusCode, headers: res.getHeaders(), payload: Buffer.from(payload) });
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cache key of a request asking for JSON; undefined when it asks for HTML or an unusual `f`. */
  private keyOf(req: IncomingMessage): string | undefined {
    const url = req.url ?? '';
    const queryStart = url.indexOf('?');
    const formats = queryStart < 0 ? [] : new URLSearchParams(url.slice(queryStart + 1)).getAll('f');
    if (formats.length > 1 || (formats.length === 1 && formats[0] !== 'json')) return undefined;
    if (formats.length === 0 && prefersHtml(undefined, req.headers.accept)) return undefined;
    const socket = req.socket as Partial<TLSSocket>;
    const baseUrl = baseUrlOf(req.headers, Boolean(socket.encrypted), `${req.socket.localAddress}:${req.socket.localPort}`, this.publicUrl);
    return `${baseUrl}\n${url}`;
  }
}
