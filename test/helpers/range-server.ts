import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** A fault the server injects into the next request(s), in order. */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Sends the headers and half the body, then destroys the connection. */
  | { kind: 'drop' }
  /** Waits before answering normally. */
  | { kind: 'delay'; ms: number };

export interface RequestRecord {
  path: string;
  range: string | undefined;
  status: number;
  bytes: number;
}

/**
 * A static file server with HTTP Range support on 127.0.0.1 (ephemeral port) that counts requests and body
 * bytes, injects faults, and can require a `token` query parameter (answering 403 otherwise).
 */
export class RangeServer {
  requests = 0;
  bytesSent = 0;
  readonly log: RequestRecord[] = [];
  /** When set, requests whose `token` query parameter differs get 403. */
  requiredToken: string | undefined;
  private readonly faults: Fault[] = [];
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(
    private readonly root: string,
    private readonly server: http.Server,
  ) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(root: string): Promise<RangeServer> {
    const server = http.createServer();
    server.keepAliveTimeout = 30_000;
    const rangeServer = new RangeServer(root, server);
    server.on('request', (request, response) => {
      rangeServer.handle(request, response).catch((error: Error) => {
        if (!response.headersSent) response.writeHead(500).end(error.message);
        else response.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return rangeServer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(file: string): string {
    return `http://127.0.0.1:${this.port}/${file}`;
  }

  injectFaults(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  resetCounters(): void {
    this.requests = 0;
    this.bytesSent = 0;
    this.log.length = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private record(request: http.IncomingMessage, status: number, bytes: number): void {
    this.requests++;
    this.bytesSent += bytes;
    this.log.push({ path: new URL(request.url ?? '/', 'http://x').pathname, range: request.headers.range, status, bytes });
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const fault = this.faults.shift();
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'status') {
      this.record(request, fault.status, 0);
      const headers: http.OutgoingHttpHeaders = fault.retryAfter !== undefined ? { 'Retry-After': fault.retryAfter } : {};
      response.writeHead(fault.status, headers).end();
      return;
    }
    const url = new URL(request.url ?? '/', 'http://x');
    if (this.requiredToken !== undefined && url.searchParams.get('token') !== this.requiredToken) {
      this.record(request, 403, 0);
      response.writeHead(403).end();
      return;
    }
    const file = path.join(this.root, path.normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, ''));
    const size = await fs.stat(file).then((stat) => stat.size, () => -1);
    if (size < 0) {
      this.record(request, 404, 0);
      response.writeHead(404).end();
      return;
    }
    const range = parseRange(request.headers.range, size);
    if (range === 'unsatisfiable') {
      this.record(request, 416, 0);
      response.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    const [start, end] = range ?? [0, size - 1];
    const length = end - start + 1;
    const status = range ? 206 : 200;
    const headers: http.OutgoingHttpHeaders = { 'Content-Length': length, 'Accept-Ranges': 'bytes' };
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    response.writeHead(status, headers);
    if (fault?.kind === 'drop') {
      const half = Math.floor(length / 2);
      this.record(request, status, half);
      const partial = createReadStream(file, { start, end: start + Math.max(0, half - 1) });
      partial.on('data', (chunk) => response.write(chunk));
      partial.on('end', () => response.socket?.destroy());
      return;
    }
    if (request.method === 'HEAD') {
      this.record(request, status, 0);
      response.end();
      return;
    }
    this.record(request, status, length);
    createReadStream(file, { start, end }).pipe(response);
  }
}

function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return undefined;
  const [, first, last] = match;
  if (first === '') {
    const suffix = Number(last);
    return suffix === 0 ? 'unsatisfiable' : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  return [start, last === '' ? size - 1 : Math.min(size - 1, Number(last))];
}
