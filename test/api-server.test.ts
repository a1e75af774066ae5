/** Server-level behaviour: by-reference input bounds, body size, PUBLIC_URL, unexpected errors, client disconnects. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve, type RunningServer } from '../src/http/server';
import type { JobBackend, JobStore } from '../src/jobs/types';
import { ProcessRegistry } from '../src/ogc/registry';
import { call, postJson, waitForJob } from './helpers/api-client';
import { errors10 } from './helpers/ogc-schemas';
import { API_FIXTURE_PROCESSES, startTestServer, type TestServer } from './helpers/server';

const EXCEPTIONS = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/';

describe('API server limits and configuration (embedded backend)', () => {
  let server: TestServer;
  let references: Server;
  let referencesUrl: string;

  beforeAll(async () => {
    server = await startTestServer({ backend: 'embedded', referenceLimits: { maxBytes: 100, timeoutMs: 300 }, jsonLimit: '2kb', publicUrl: 'https://public.example/ogc' });
    references = createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('too late'), 2_000);
      else if (req.url === '/big') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('x'.repeat(1_000));
      else if (req.url === '/big-chunked') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        for (let i = 0; i < 10; i++) res.write('y'.repeat(50));
        res.end();
      } else res.writeHead(200, { 'Content-Type': 'text/plain' }).end('small');
    });
    await new Promise<void>((resolve) => references.listen(0, '127.0.0.1', resolve));
    referencesUrl = `http://127.0.0.1:${(references.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    references.closeAllConnections();
    await new Promise((resolve) => references.close(resolve));
    await server.close();
  });

  it.each(['/slow', '/big', '/big-chunked'])('rejects the by-reference input %s beyond its time or size bound with 400', async (path) => {
    const reply = await postJson(`${server.baseUrl}/processes/echo/execution`, { inputs: { echoInput: { href: referencesUrl + path } } });
    expect(reply.status).toBe(400);
    expect(reply.body.type).toBe(`${EXCEPTIONS}InvalidParameterValue`);
    expect(reply.body.detail).toContain('echoInput');
  });

  it('reads a by-reference input within its bounds', async () => {
    expect((await postJson(`${server.baseUrl}/processes/echo/execution`, { inputs: { echoInput: { href: `${referencesUrl}/ok` } } })).text).toBe('small');
  });

  it('answers a too large body with 413 as an OGC exception', async () => {
    const reply = await postJson(`${server.baseUrl}/processes/echo/execution`, { inputs: { echoInput: 'z'.repeat(5_000) } });
    expect(reply.status).toBe(413);
    expect(errors10('exception', reply.body)).toEqual([]);
  });

  it('uses PUBLIC_URL for Location and links', async () => {
    const reply = await postJson(`${server.baseUrl}/processes/echo/execution`, { inputs: { echoInput: 'public' } }, { Prefer: 'respond-async' });
    expect(reply.headers.get('location')).toBe(`https://public.example/ogc/jobs/${reply.body.jobID}`);
    const landing = await call(`${server.baseUrl}/`);
    expect(landing.body.links.every((link: any) => link.href.startsWith('https://public.example/ogc/'))).toBe(true);
  });

  it('serves the API documentation to browsers following service-desc', async () => {
    const reply = await call(`${server.baseUrl}/api`, { headers: { Accept: 'text/html' } });
    expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
    expect(reply.text).toContain('/jobs/{jobID}/results');
  });

  it('keeps serving after a client abandons a synchronous execution', async () => {
    const controller = new AbortController();
    const pending = fetch(`${server.baseUrl}/processes/echo/execution`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ inputs: { echoInput: 'abandoned', pause: 0.5 } }),
      signal: controller.signal,
    });
    await sleep(100);
    controller.abort();
    await expect(pending).rejects.toThrow();
    const { jobs } = await server.backend.store.list({ processIds: ['echo'], offset: 0, limit: 100 });
    const abandoned = jobs.find((job) => job.request.inputs.echoInput === 'abandoned');
    expect(abandoned).toBeDefined();
    expect((await waitForJob(server.baseUrl, abandoned!.id)).status).toBe('successful');
    expect((await call(`${server.baseUrl}/processes`)).status).toBe(200);
  });
});

describe('replay of immutable responses', () => {
  let running: RunningServer;

  beforeAll(async () => {
    const idle = (): Promise<never> => Promise.reject(new Error('not used'));
    const backend: JobBackend = { store: { create: idle, get: idle, update: idle, list: idle }, submit: idle, waitForFinal: idle, dismiss: idle, close: async () => undefined };
    running = await serve({ registry: ProcessRegistry.load(API_FIXTURE_PROCESSES), backend, outputDir: '/nonexistent', host: '127.0.0.1', port: 0 });
  });

  afterAll(() => running.close());

  const snapshot = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(running.url + path, init);
    // Date and connection management belong to the transport (undici closes after a HEAD), not to the representation.
    const headers = Object.fromEntries([...response.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name)));
    return { status: response.status, headers, text: await response.text() };
  };

  it('answers a repeated JSON read from memory, byte for byte and header for header', async () => {
    const list = jest.spyOn(running.api.catalog, 'list');
    try {
      const first = await snapshot('/processes?limit=2');
      const second = await snapshot('/processes?limit=2', { headers: { Accept: 'application/json' } });
      expect(second).toEqual(first);
      expect(list).toHaveBeenCalledTimes(1);
      const head = await snapshot('/processes?limit=2', { method: 'HEAD' });
      expect(head.headers).toEqual(first.headers);
      expect(head.text).toBe('');
      expect(list).toHaveBeenCalledTimes(1);
      expect(first.headers['access-control-allow-origin']).toBe('*');
    } finally {
      list.mockRestore();
    }
  });

  it('keeps representations, base URLs and errors apart', async () => {
    const json = await snapshot('/processes/echo');
    expect(json.headers['content-type']).toBe('application/json');
    expect((await snapshot('/processes/echo', { headers: { Accept: 'text/html' } })).headers['content-type']).toMatch(/^text\/html/);
    expect((await snapshot('/processes/echo?f=html')).headers['content-type']).toMatch(/^text\/html/);
    const proxied = await snapshot('/processes/echo', { headers: { 'X-Forwarded-Host': 'other.example' } });
    expect(proxied.text).toContain('http://other.example/processes/echo');
    expect(proxied.text).not.toContain(running.url);
    expect(json.text).toContain(running.url);
    expect((await snapshot('/processes?limit=0')).status).toBe(400);
    expect((await snapshot('/processes?limit=0')).status).toBe(400);
  });
});

describe('API server on a failing job store', () => {
  let running: RunningServer;
  const logged: string[] = [];

  beforeAll(async () => {
    const broken = (): Promise<never> => Promise.reject(new Error('disk on fire'));
    const store: JobStore = { create: broken, get: broken, update: broken, list: broken };
    const backend: JobBackend = { store, submit: broken, waitForFinal: broken, dismiss: broken, close: async () => undefined };
    running = await serve({ registry: ProcessRegistry.load(API_FIXTURE_PROCESSES), backend, outputDir: '/nonexistent', host: '127.0.0.1', port: 0, log: (line) => logged.push(line) });
  });

  afterAll(() => running.close());

  it('answers unexpected errors with a logged 500 JSON ServerError', async () => {
    for (const [path, init] of [
      ['/jobs', {}],
      ['/processes/echo/execution', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"inputs":{"echoInput":"a"}}' }],
      ['/jobs/x', { method: 'DELETE' }],
    ] as Array<[string, RequestInit]>) {
      const reply = await call(running.url + path, init);
      expect(reply.status).toBe(500);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(errors10('exception', reply.body)).toEqual([]);
      expect(reply.body.type).toBe(`${EXCEPTIONS}ServerError`);
      expect(reply.body.detail).not.toContain('disk on fire');
    }
    expect(logged.filter((line) => line.includes('disk on fire'))).toHaveLength(3);
  });

  it('answers ids no job can have with 404 without asking the store', async () => {
    expect((await call(`${running.url}/jobs/..%2Fx`)).status).toBe(404);
    expect((await call(`${running.url}/jobs/a%20b/results`)).status).toBe(404);
    expect((await call(`${running.url}/jobs/x`)).status).toBe(500);
  });
});
