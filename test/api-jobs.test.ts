/** OGC API - Processes 1.0 jobs: status, list filters, results, dismiss, job files; plus CORS, HTML, 404/405. */
import { existsSync } from 'node:fs';
import { call, FINAL, postJson, rawGet, waitForJob } from './helpers/api-client';
import { errors10, statusInfoErrors } from './helpers/ogc-schemas';
import { startTestServer, type BackendKind, type TestServer } from './helpers/server';

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const EXCEPTIONS = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/';
const RESULTS_REL = 'http://www.opengis.net/def/rel/ogc/1.0/results';

describe.each<BackendKind>(['embedded', 'bullmq'])('OGC API - Processes jobs (%s backend)', (backendKind) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startTestServer({ backend: backendKind, queuePrefix: `api-jobs-${process.pid}` });
    base = server.baseUrl;
  });

  afterAll(() => server.close());

  const submit = async (processId: string, body: unknown): Promise<string> => {
    const reply = await postJson(`${base}/processes/${processId}/execution`, body, { Prefer: 'respond-async' });
    expect(reply.status).toBe(201);
    return reply.body.jobID;
  };
  const echoJob = (echoInput: string, pause = 0, response: 'raw' | 'document' = 'raw') => submit('echo', { inputs: { echoInput, pause }, response });

  describe('job status', () => {
    it('reports a running job with progress, then its results link once successful', async () => {
      const id = await echoJob('slow', 1.5);
      const running = await waitForJob(base, id, (status) => status.status === 'running' && status.progress > 0);
      expect(statusInfoErrors(running)).toEqual([]);
      expect(running).toMatchObject({ jobID: id, id, type: 'process', processingEntityType: 'ogc-api-processes', processID: 'echo', status: 'running' });
      expect(running.progress).toBeLessThan(100);
      expect(running.links.find((link: any) => link.rel === RESULTS_REL)).toBeUndefined();
      expect(running.started).toEqual(expect.any(String));
      expect(running.finished).toBeUndefined();
      const notReady = await call(`${base}/jobs/${id}/results`);
      expect(notReady.status).toBe(404);
      expect(notReady.body.type).toBe(`${EXCEPTIONS}result-not-ready`);

      const done = await waitForJob(base, id);
      expect(statusInfoErrors(done)).toEqual([]);
      expect(done).toMatchObject({ status: 'successful', progress: 100 });
      for (const field of ['created', 'started', 'finished', 'updated']) expect(Date.parse(done[field])).not.toBeNaN();
      expect(Object.values(done)).not.toContain(null);
      const rels = done.links.map((link: any) => link.rel);
      expect(rels).toEqual(expect.arrayContaining(['self', 'alternate', 'up', RESULTS_REL]));
      expect(done.links.find((link: any) => link.rel === 'up').href).toMatch(/\/jobs\?f=json$/);
      const results = await call(done.links.find((link: any) => link.rel === RESULTS_REL).href);
      expect(results.text).toBe('slow');
    });

    it('answers an unknown job with 404 no-such-job', async () => {
      for (const path of ['/jobs/unknown-job', '/jobs/unknown-job/results']) {
        const reply = await call(`${base}${path}`);
        expect(reply.status).toBe(404);
        expect(errors10('exception', reply.body)).toEqual([]);
        expect(reply.body.type).toBe(`${EXCEPTIONS}no-such-job`);
      }
      const dismissed = await call(`${base}/jobs/unknown-job`, { method: 'DELETE' });
      expect(dismissed.status).toBe(404);
      expect(dismissed.body.type).toBe(`${EXCEPTIONS}no-such-job`);
    });
  });

  describe('job results', () => {
    it('serves a document result keyed by output id, without an outputs wrapper', async () => {
      const id = await echoJob('as document', 0, 'document');
      await waitForJob(base, id);
      const reply = await call(`${base}/jobs/${id}/results`);
      expect(reply.status).toBe(200);
      expect(errors10('results', reply.body)).toEqual([]);
      expect(reply.body).toEqual({ echoInput: 'as document' });
    });

    it('makes file outputs absolute URLs', async () => {
      const id = await submit('multi', { inputs: { label: 'files', numbers: [1] }, response: 'document' });
      await waitForJob(base, id);
      const reply = await call(`${base}/jobs/${id}/results`);
      expect(reply.body.report.href).toBe(`${base}/jobs/${id}/files/report.json`);
      expect(reply.body.image.href).toBe(`${base}/jobs/${id}/files/cog/image.tif`);
    });

    it('serves the exception of a failed job with its status', async () => {
      const id = await submit('multi', { inputs: { label: 'f', numbers: [1], fail: true } });
      const status = await waitForJob(base, id);
      expect(status.status).toBe('failed');
      expect(statusInfoErrors(status)).toEqual([]);
      expect(status.links.find((link: any) => link.rel === RESULTS_REL)).toBeUndefined();
      const reply = await call(`${base}/jobs/${id}/results`);
      expect(reply.status).toBe(500);
      expect(errors10('exception', reply.body)).toEqual([]);
      expect(reply.body.detail).toContain('failing as asked');
    });
  });

  describe('dismiss', () => {
    it('stops a running job, deletes its outputs and reports it dismissed', async () => {
      const id = await echoJob('dismiss me', 30);
      await waitForJob(base, id, (status) => status.status === 'running');
      const reply = await call(`${base}/jobs/${id}`, { method: 'DELETE' });
      expect(reply.status).toBe(200);
      expect(statusInfoErrors(reply.body)).toEqual([]);
      expect(reply.body.status).toBe('dismissed');
      const results = await call(`${base}/jobs/${id}/results`);
      expect(results.status).toBe(404);
      expect(results.body.type).toBe(`${EXCEPTIONS}no-such-job`);
      const status = await call(`${base}/jobs/${id}`);
      expect(status.body.status).toBe('dismissed');
    });

    it('deletes the files of a finished job', async () => {
      const id = await submit('multi', { inputs: { label: 'gone', numbers: [1] } });
      await waitForJob(base, id);
      expect((await call(`${base}/jobs/${id}/files/report.json`)).status).toBe(200);
      expect((await call(`${base}/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
      expect(existsSync(`${server.outputDir}/${id}`)).toBe(false);
      expect((await call(`${base}/jobs/${id}/files/report.json`)).status).toBe(404);
    });
  });

  describe('job list', () => {
    let echoIds: string[];
    let multiId: string;
    let slowId: string;
    let createdBefore: string;

    beforeAll(async () => {
      createdBefore = new Date(Date.now() - 1000).toISOString();
      echoIds = [await echoJob('l1'), await echoJob('l2'), await echoJob('l3')];
      multiId = await submit('multi', { inputs: { label: 'list', numbers: [2] } });
      slowId = await echoJob('slow', 1.2);
      for (const id of [...echoIds, multiId, slowId]) await waitForJob(base, id, (status) => FINAL.includes(status.status), 30_000);
    });

    const listed = async (query: string): Promise<string[]> => {
      const reply = await call(`${base}/jobs?limit=10000&${query}`);
      expect(reply.status).toBe(200);
      expect(errors10('jobList', reply.body)).toEqual([]);
      for (const job of reply.body.jobs) expect(statusInfoErrors(job)).toEqual([]);
      return reply.body.jobs.map((job: any) => job.jobID);
    };

    it('lists jobs as statusInfo with self and alternate links, 10 by default', async () => {
      const reply = await call(`${base}/jobs`);
      expect(reply.body.jobs.length).toBeLessThanOrEqual(10);
      expect(reply.body.links.map((link: any) => link.rel)).toEqual(expect.arrayContaining(['self', 'alternate']));
    });

    it('pages with limit and next/prev links', async () => {
      const all = await listed('processID=echo');
      const first = await call(`${base}/jobs?processID=echo&limit=2`);
      expect(first.body.jobs).toHaveLength(2);
      const next = first.body.links.find((link: any) => link.rel === 'next');
      expect(next.href).toContain('processID=echo');
      const second = await call(next.href);
      expect(second.body.jobs.map((job: any) => job.jobID)).toEqual(all.slice(2, 4));
      expect(second.body.links.find((link: any) => link.rel === 'prev')).toBeDefined();
    });

    it('filters by processID, repeated or comma-separated', async () => {
      const echo = await listed('processID=echo');
      expect(echo).toEqual(expect.arrayContaining([...echoIds, slowId]));
      expect(echo).not.toContain(multiId);
      expect(await listed('processID=multi')).toContain(multiId);
      const both = await listed('processID=echo,multi');
      expect(both).toEqual(expect.arrayContaining([...echoIds, multiId]));
      expect((await listed('processID=echo&processID=multi')).sort()).toEqual(both.sort());
    });

    it('filters by status and type', async () => {
      const successful = await listed('status=successful');
      expect(successful).toEqual(expect.arrayContaining(echoIds));
      expect(await listed('status=failed,dismissed')).not.toContain(echoIds[0]);
      expect(await listed('type=process')).toEqual(expect.arrayContaining(echoIds));
    });

    it('filters by creation datetime, instants and open or closed intervals', async () => {
      const future = new Date(Date.now() + 3_600_000).toISOString();
      expect(await listed(`datetime=${createdBefore}/${future}`)).toEqual(expect.arrayContaining(echoIds));
      expect(await listed(`datetime=${createdBefore}/..`)).toEqual(expect.arrayContaining(echoIds));
      expect(await listed(`datetime=../${createdBefore}`)).not.toContain(echoIds[0]);
      expect(await listed(`datetime=${future}/..`)).toEqual([]);
      const created = (await call(`${base}/jobs/${echoIds[1]}`)).body.created;
      expect(await listed(`datetime=${encodeURIComponent(created)}`)).toContain(echoIds[1]);
    });

    it('filters by run duration in seconds', async () => {
      const long = await listed('minDuration=1');
      expect(long).toContain(slowId);
      expect(long).not.toContain(echoIds[0]);
      expect(await listed('maxDuration=0')).not.toContain(slowId);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=x', 'limit'],
      ['type=workflow', 'type'],
      ['status=done', 'status'],
      ['datetime=yesterday', 'datetime'],
      ['datetime=2030-01-01T00:00:00Z/2020-01-01T00:00:00Z', 'datetime'],
      ['datetime=../..', 'datetime'],
      ['minDuration=-1', 'minDuration'],
      ['maxDuration=soon', 'maxDuration'],
      ['minDuration=5&maxDuration=2', 'minDuration'],
    ])('rejects %s with 400 naming the parameter', async (query, name) => {
      const reply = await call(`${base}/jobs?${query}`);
      expect(reply.status).toBe(400);
      expect(reply.body.type).toBe(`${EXCEPTIONS}InvalidParameterValue`);
      expect(reply.body.detail).toContain(name);
    });
  });

  describe('job files', () => {
    let id: string;
    let fileUrl: string;

    beforeAll(async () => {
      id = await submit('multi', { inputs: { label: 'bytes', numbers: [1] } });
      await waitForJob(base, id);
      fileUrl = `${base}/jobs/${id}/files/cog/image.tif`;
    });

    it('serves a whole file with its media type and Accept-Ranges', async () => {
      const response = await fetch(fileUrl);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
      expect(response.headers.get('accept-ranges')).toBe('bytes');
      expect(Buffer.from(await response.arrayBuffer())).toHaveLength(1000);
      expect((await fetch(`${base}/jobs/${id}/files/report.json`)).headers.get('content-type')).toBe('application/json');
    });

    it.each([
      ['bytes=0-99', 0, 99],
      ['bytes=990-', 990, 999],
      ['bytes=-10', 990, 999],
      ['bytes=500-5000', 500, 999],
    ])('serves %s as 206 with Content-Range', async (range, start, end) => {
      const response = await fetch(fileUrl, { headers: { Range: range } });
      expect(response.status).toBe(206);
      expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/1000`);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes).toHaveLength(end - start + 1);
      expect(bytes[0]).toBe(start % 256);
    });

    it('answers an unsatisfiable range with 416', async () => {
      const response = await fetch(fileUrl, { headers: { Range: 'bytes=1000-' } });
      expect(response.status).toBe(416);
      expect(response.headers.get('content-range')).toBe('bytes */1000');
      await response.arrayBuffer();
    });

    it('serves the whole file for several ranges', async () => {
      const response = await fetch(fileUrl, { headers: { Range: 'bytes=0-1,5-6' } });
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toHaveLength(1000);
    });

    it('answers HEAD with the headers only', async () => {
      const response = await fetch(fileUrl, { method: 'HEAD' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-length')).toBe('1000');
      expect(await response.text()).toBe('');
    });

    it.each([
      '/jobs/JOB/files/../../../etc/passwd',
      '/jobs/JOB/files/%2e%2e/%2e%2e/etc/passwd',
      '/jobs/JOB/files/..%2F..%2Fetc%2Fpasswd',
      '/jobs/JOB/files//etc/passwd',
      '/jobs/JOB/files/cog/%2Fetc%2Fpasswd',
      '/jobs/JOB/files/missing.tif',
      '/jobs/..%2F..%2Fetc/files/passwd',
    ])('refuses %s without leaving the job folder', async (template) => {
      const reply = await rawGet(base, template.replace('JOB', id));
      expect([400, 404]).toContain(reply.status);
      expect(reply.text).not.toContain('root:');
      expect(JSON.parse(reply.text).type).toMatch(/^http:\/\/www\.opengis\.net\/def\/exceptions\//);
    });
  });

  describe('HTML', () => {
    it.each([
      ['/', 'f=html'],
      ['/processes', 'f=html'],
      ['/processes/echo', 'f=html'],
      ['/jobs', 'f=html'],
      ['/conformance', 'f=html'],
    ])('renders %s as self-contained HTML with %s', async (path, query) => {
      const reply = await call(`${base}${path}?${query}`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
      expect(reply.text).toMatch(/^<!DOCTYPE html>/);
      expect(reply.text).toContain('<style>');
      expect(reply.text).not.toMatch(/(src|href)="https?:\/\/(?!127\.0\.0\.1)/);
    });

    it('negotiates by Accept q-values, JSON by default', async () => {
      const html = await call(`${base}/processes`, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      expect(html.headers.get('content-type')).toMatch(/^text\/html/);
      const preferJson = await call(`${base}/processes`, { headers: { Accept: 'text/html;q=0.5, application/json' } });
      expect(preferJson.headers.get('content-type')).toMatch(/^application\/json/);
      const any = await call(`${base}/processes`, { headers: { Accept: '*/*' } });
      expect(any.headers.get('content-type')).toMatch(/^application\/json/);
      const forced = await call(`${base}/processes?f=json`, { headers: { Accept: 'text/html' } });
      expect(forced.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await call(`${base}/processes?f=xml`)).status).toBe(400);
    });

    it('renders a job page that polls its JSON status', async () => {
      const id = await echoJob('page');
      const reply = await call(`${base}/jobs/${id}`, { headers: { Accept: 'text/html' } });
      expect(reply.text).toContain(`${base}/jobs/${id}?f=json`);
      expect(reply.text).toMatch(/<script>[\s\S]*fetch\(/);
      expect(reply.text).toContain('id="job-progress"');
    });

    it('updates status, progress and the results link from the polled JSON', async () => {
      const id = await echoJob('polled', 0.5);
      const page = await call(`${base}/jobs/${id}?f=html`);
      const script = /<script>([\s\S]*?)<\/script>/.exec(page.text)![1];
      const elements: Record<string, { textContent: string; style: Record<string, string>; href?: string }> = {};
      const document = { getElementById: (elementId: string) => (elements[elementId] ??= { textContent: '', style: {} }) };
      const polled: string[] = [];
      const pollOnce = (url: string) => {
        polled.push(url);
        return fetch(url, { headers: { Accept: 'application/json' } }).then(async (response) => {
          const status = await response.json();
          return { json: async () => status };
        });
      };
      await waitForJob(base, id);
      let scheduled: (() => void) | undefined;
      new Function('document', 'fetch', 'setTimeout', script)(document, pollOnce, (callback: () => void) => (scheduled = callback));
      scheduled!();
      await waitFor(() => elements['job-status']?.textContent === 'successful');
      expect(polled).toEqual([`${base}/jobs/${id}?f=json`]);
      expect(elements['job-progress'].textContent).toBe('100%');
      expect(elements['job-bar'].style.width).toBe('100%');
      expect(elements['job-results'].href).toBe(`${base}/jobs/${id}/results?f=json`);
      expect(elements['job-results'].style.display).toBe('inline');
    });

    it('escapes what it shows', async () => {
      const reply = await call(`${base}/processes/%3Cscript%3Ealert(1)%3C%2Fscript%3E?f=html`);
      expect(reply.status).toBe(404);
      expect(reply.text).not.toContain('<script>alert(1)</script>');
      expect(reply.text).toContain('&#60;script&#62;');
    });
  });

  describe('HTTP behaviour', () => {
    it('sends CORS headers on every response and answers preflight requests', async () => {
      for (const path of ['/', '/processes', '/nowhere']) {
        const reply = await call(`${base}${path}`);
        expect(reply.headers.get('access-control-allow-origin')).toBe('*');
        expect(reply.headers.get('access-control-expose-headers')).toEqual(expect.stringContaining('Location'));
      }
      const exposed = (await call(`${base}/`)).headers.get('access-control-expose-headers') ?? '';
      for (const header of ['Location', 'Link', 'Preference-Applied', 'Content-Range', 'Accept-Ranges']) expect(exposed).toContain(header);
      const preflight = await fetch(`${base}/processes/echo/execution`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://elsewhere.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, prefer' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('prefer');
    });

    it('answers unknown paths with 404 and wrong methods with 405, as JSON exceptions', async () => {
      const missing = await call(`${base}/nowhere`);
      expect(missing.status).toBe(404);
      expect(errors10('exception', missing.body)).toEqual([]);
      const wrong = await call(`${base}/processes`, { method: 'DELETE' });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get('allow')).toContain('GET');
      expect(errors10('exception', wrong.body)).toEqual([]);
      expect((await call(`${base}/processes/echo/execution`)).status).toBe(405);
      expect((await postJson(`${base}/jobs`, {})).status).toBe(405);
    });

    it('does not announce Express', async () => {
      expect((await call(`${base}/`)).headers.get('x-powered-by')).toBeNull();
    });
  });
});
