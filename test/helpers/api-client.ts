/** Small fetch helpers for the API tests. */
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { errors10, errorsExecuteSync, processDescriptionErrors, statusInfoErrors } from './ogc-schemas';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  body: any;
}

/** Fetches, parses a JSON body, and checks it against the official schema of its resource (throws if invalid). */
export async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  const contentType = response.headers.get('content-type') ?? '';
  if (/json/.test(contentType)) body = JSON.parse(text);
  if (/^application\/json/.test(contentType)) {
    const errors = officialSchemaErrors(new URL(url).pathname, response.status, body);
    if (errors.length > 0) throw new Error(`${init.method ?? 'GET'} ${url} answered ${response.status} with a body invalid against the OGC schemas: ${errors.join('; ')}\n${text}`);
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** The errors of a JSON response body against the official 1.0 (and, for statusInfo, 2.0-draft) schema of its route. */
export function officialSchemaErrors(path: string, status: number, body: unknown): string[] {
  if (status >= 400) return errors10('exception', body);
  const segments = path.split('/').filter(Boolean);
  const [collection, id, sub] = segments;
  if (segments.length === 0) return errors10('landingPage', body);
  if (collection === 'conformance' && segments.length === 1) return errors10('confClasses', body);
  if (collection === 'processes') {
    if (segments.length === 1) return errors10('processList', body);
    if (segments.length === 2) return processDescriptionErrors(body);
    if (sub === 'execution' && status === 201) return statusInfoErrors(body);
    if (sub === 'execution') return errorsExecuteSync(body);
  }
  if (collection === 'jobs') {
    if (segments.length === 1) return [...errors10('jobList', body), ...(body as { jobs: unknown[] }).jobs.flatMap(statusInfoErrors)];
    if (segments.length === 2 && id) return statusInfoErrors(body);
    if (sub === 'results') return errorsExecuteSync(body);
  }
  return [];
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return call(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export const FINAL = ['successful', 'failed', 'dismissed'];

/** Polls the job status until `accept(status)` holds. */
export async function waitForJob(baseUrl: string, jobId: string, accept: (status: any) => boolean = (s) => FINAL.includes(s.status), timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await call(`${baseUrl}/jobs/${jobId}`);
    if (reply.status === 200 && accept(reply.body)) return reply.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach the expected status; last: ${reply.text}`);
    await sleep(50);
  }
}

/** A raw HTTP GET that sends the path exactly as given (fetch would normalize `..` segments away). */
export function rawGet(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The parts of a multipart/related body: their headers (lower-case names) and content. */
export function multipartParts(contentType: string, body: Buffer): Array<{ headers: Record<string, string>; content: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const text = body.toString('latin1');
  return text
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((raw) => {
      const part = raw.replace(/^\r\n/, '').replace(/\r\n$/, '');
      const split = part.indexOf('\r\n\r\n');
      const headers = Object.fromEntries(
        part
          .slice(0, split)
          .split('\r\n')
          .map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      return { headers, content: Buffer.from(part.slice(split + 4), 'latin1') };
    });
}
