/** OGC API - Processes 1.0 protocol: landing page, conformance, OpenAPI, process list/description, execution. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { call, multipartParts, postJson, waitForJob } from './helpers/api-client';
import { errors10, errorsExecuteSync, openApiComponentValidator, processDescriptionErrors, statusInfoErrors } from './helpers/ogc-schemas';
import { startTestServer, type BackendKind, type TestServer } from './helpers/server';

const EXCEPTIONS = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/';
const REL = 'http://www.opengis.net/def/rel/ogc/1.0/';

describe.each<BackendKind>(['embedded', 'bullmq'])('OGC API - Processes protocol (%s backend)', (backendKind) => {
  let server: TestServer;
  let base: string;
  let references: Server;
  let referencesUrl: string;

  beforeAll(async () => {
    server = await startTestServer({ backend: backendKind, queuePrefix: `api-protocol-${process.pid}` });
    base = server.baseUrl;
    references = createServer((req, res) => {
      if (req.url === '/text') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('from a reference');
      else if (req.url === '/number') res.writeHead(200, { 'Content-Type': 'application/json' }).end('7');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => references.listen(0, '127.0.0.1', resolve));
    referencesUrl = `http://127.0.0.1:${(references.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => references.close(resolve));
    await server.close();
  });

  const jobCount = async (): Promise<number> => (await server.backend.store.list({ offset: 0, limit: 10_000 })).jobs.length;

  describe('landing page and conformance', () => {
    it('links to the API definition, its documentation, conformance, processes and jobs', async () => {
      const reply = await call(`${base}/`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(errors10('landingPage', reply.body)).toEqual([]);
      const byRel = (rel: string) => reply.body.links.find((link: any) => link.rel === rel);
      expect(byRel('self').type).toBe('application/json');
      expect(byRel('alternate').type).toBe('text/html');
      expect(byRel('service-desc')).toMatchObject({ href: `${base}/api`, type: 'application/vnd.oai.openapi+json;version=3.0' });
      expect(byRel('service-doc')).toMatchObject({ href: `${base}/api.html`, type: 'text/html' });
      expect(byRel('conformance').href).toMatch(/\/conformance/);
      expect(byRel(`${REL}conformance`).href).toMatch(/\/conformance/);
      expect(byRel(`${REL}processes`).href).toMatch(/\/processes/);
      expect(byRel(`${REL}job-list`).href).toMatch(/\/jobs/);
    });

    it('declares the eight 1.0 conformance classes', async () => {
      const reply = await call(`${base}/conformance`);
      expect(errors10('confClasses', reply.body)).toEqual([]);
      const classes = ['core', 'ogc-process-description', 'json', 'html', 'oas30', 'job-list', 'callback', 'dismiss'];
      expect([...reply.body.conformsTo].sort()).toEqual(classes.map((name) => `http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/${name}`).sort());
    });

    it('serves the service-doc page as self-contained HTML', async () => {
      const reply = await call(`${base}/api.html`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
      expect(reply.text).toContain('/processes/{processID}/execution');
      expect(reply.text).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
    });
  });

  describe('OpenAPI document', () => {
    it('is OpenAPI 3.0 JSON listing every path with resolvable references', async () => {
      const reply = await call(`${base}/api`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toBe('application/vnd.oai.openapi+json;version=3.0');
      const document = JSON.parse(reply.text);
      expect(document.openapi).toMatch(/^3\.0\.\d+$/);
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining([
          '/', '/conformance', '/api', '/api.html', '/processes', '/processes/{processID}', '/processes/{processID}/execution',
          '/jobs', '/jobs/{jobID}', '/jobs/{jobID}/results', '/jobs/{jobID}/files/{path}',
          '/processes/echo/execution', '/processes/multi/execution', '/processes/async-only/execution',
        ]),
      );
      expect(Object.keys(document.paths['/jobs/{jobID}'])).toEqual(expect.arrayContaining(['get', 'delete']));
      const jobListParameters = document.paths['/jobs'].get.parameters.map((parameter: any) => document.components.parameters[parameter.$ref.split('/').pop()].name);
      expect(jobListParameters).toEqual(expect.arrayContaining(['type', 'processID', 'status', 'datetime', 'minDuration', 'maxDuration', 'limit', 'offset']));
      const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
      for (const ref of refs) {
        const [, section, name] = /#\/components\/(\w+)\/([^"]+)"/.exec(ref) ?? [];
        expect(document.components[section]?.[name]).toBeDefined();
      }
      const executeEcho = document.components.schemas['execute-echo'];
      expect(JSON.stringify(executeEcho)).toContain('echoInput');
      expect(Object.keys(document.paths['/processes/{processID}/execution'].post.responses)).toEqual(expect.arrayContaining(['200', '201', '204', '400', '404', '500']));
    });

    it('describes with its schemas what the server answers', async () => {
      const validate = openApiComponentValidator(JSON.parse((await call(`${base}/api`)).text));
      expect(validate('landingPage', (await call(`${base}/`)).body)).toEqual([]);
      expect(validate('confClasses', (await call(`${base}/conformance`)).body)).toEqual([]);
      expect(validate('processList', (await call(`${base}/processes`)).body)).toEqual([]);
      expect(validate('process', (await call(`${base}/processes/multi`)).body)).toEqual([]);
      expect(validate('exception', (await call(`${base}/processes/nope`)).body)).toEqual([]);
      const accepted = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'openapi' }, response: 'document' }, { Prefer: 'respond-async' });
      expect(validate('statusInfo', accepted.body)).toEqual([]);
      await waitForJob(base, accepted.body.jobID);
      expect(validate('results', (await call(`${base}/jobs/${accepted.body.jobID}/results`)).body)).toEqual([]);
      expect(validate('jobList', (await call(`${base}/jobs`)).body)).toEqual([]);
    });

    it('has process-specific execute request schemas built from the descriptions', async () => {
      const validate = openApiComponentValidator(JSON.parse((await call(`${base}/api`)).text));
      expect(validate('execute-echo', { inputs: { echoInput: 'a', pause: 1 }, response: 'document' })).toEqual([]);
      expect(validate('execute-echo', { inputs: { echoInput: { value: 'a', mediaType: 'text/plain' } } })).toEqual([]);
      expect(validate('execute-echo', { inputs: { echoInput: { href: 'http://example.org/a.txt' } } })).toEqual([]);
      expect(validate('execute-echo', { inputs: {} })).not.toEqual([]);
      expect(validate('execute-echo', { inputs: { echoInput: 'a', colour: 'red' } })).not.toEqual([]);
      expect(validate('execute-echo', { inputs: { echoInput: 'a' }, outputs: { nope: {} } })).not.toEqual([]);
      expect(validate('execute-multi', { inputs: { label: 'a', numbers: [1, 2, 3] } })).toEqual([]);
      expect(validate('execute-multi', { inputs: { label: 'a', numbers: [1, 2, 3, 4] } })).not.toEqual([]);
      expect(validate('execute-async-only', {})).toEqual([]);
    });
  });

  describe('process list', () => {
    it('lists summaries with id, version, job control options, transmission modes and a self link', async () => {
      const reply = await call(`${base}/processes`);
      expect(reply.status).toBe(200);
      expect(errors10('processList', reply.body)).toEqual([]);
      expect(reply.body.processes.map((process: any) => process.id).sort()).toEqual(['async-only', 'echo', 'multi']);
      for (const process of reply.body.processes) {
        expect(process).toEqual(expect.objectContaining({ id: expect.any(String), version: expect.any(String), title: expect.any(String), jobControlOptions: expect.any(Array), outputTransmission: expect.any(Array) }));
        expect(process.links.find((link: any) => link.rel === 'self').href).toBe(`${base}/processes/${process.id}?f=json`);
        expect(process.inputs).toBeUndefined();
      }
      expect(reply.body.links.map((link: any) => link.rel)).toEqual(expect.arrayContaining(['self', 'alternate']));
    });

    it('pages with limit, next and prev links', async () => {
      const first = await call(`${base}/processes?limit=1`);
      expect(first.body.processes).toHaveLength(1);
      expect(first.body.links.find((link: any) => link.rel === 'prev')).toBeUndefined();
      const next = first.body.links.find((link: any) => link.rel === 'next');
      const second = await call(next.href);
      expect(second.body.processes).toHaveLength(1);
      expect(second.body.processes[0].id).not.toBe(first.body.processes[0].id);
      const prev = await call(second.body.links.find((link: any) => link.rel === 'prev').href);
      expect(prev.body.processes[0].id).toBe(first.body.processes[0].id);
      const last = await call(`${base}/processes?limit=2&offset=2`);
      expect(last.body.processes).toHaveLength(1);
      expect(last.body.links.find((link: any) => link.rel === 'next')).toBeUndefined();
    });

    it.each(['0', '10001', 'abc', '1.5', '-1'])('rejects limit=%s with 400 InvalidParameterValue', async (limit) => {
      const reply = await call(`${base}/processes?limit=${limit}`);
      expect(reply.status).toBe(400);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(errors10('exception', reply.body)).toEqual([]);
      expect(reply.body).toMatchObject({ type: `${EXCEPTIONS}InvalidParameterValue`, status: 400 });
      expect(reply.body.detail).toContain('limit');
    });

    it('accepts the largest limit, 10000', async () => {
      expect((await call(`${base}/processes?limit=10000`)).status).toBe(200);
    });
  });

  describe('process description', () => {
    it.each(['echo', 'multi', 'async-only'])('describes %s validly against process.yaml and the strict schema.yaml', async (id) => {
      const reply = await call(`${base}/processes/${id}`);
      expect(reply.status).toBe(200);
      expect(processDescriptionErrors(reply.body)).toEqual([]);
      const rels = reply.body.links.map((link: any) => link.rel);
      expect(rels).toEqual(expect.arrayContaining(['self', 'alternate', `${REL}execute`]));
      expect(reply.body.links.find((link: any) => link.rel === `${REL}execute`).href).toBe(`${base}/processes/${id}/execution`);
    });

    it('publishes JSON Schema keywords in their OpenAPI 3.0 form', async () => {
      const { body } = await call(`${base}/processes/multi`);
      expect(body.inputs.mode.schema).toEqual({ type: 'string', enum: ['normal'], default: 'normal' });
      expect(body.inputs.numbers.schema).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true });
      expect(body.inputs.label.schema).toEqual({ type: 'string', minLength: 1, example: 'hello' });
      expect(body.inputs.numbers.maxOccurs).toBe(3);
    });

    it('answers an unknown process with 404 no-such-process', async () => {
      const reply = await call(`${base}/processes/nope`);
      expect(reply.status).toBe(404);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(reply.body).toMatchObject({ type: `${EXCEPTIONS}no-such-process`, status: 404 });
      expect(errors10('exception', reply.body)).toEqual([]);
      expect((await postJson(`${base}/processes/nope/execution`, { inputs: {} })).body.type).toBe(`${EXCEPTIONS}no-such-process`);
    });
  });

  describe('synchronous execution', () => {
    it('answers raw with one output by value as the bare value', async () => {
      const reply = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'hello' } });
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(reply.text).toBe('hello');
      expect(errorsExecuteSync(reply.text)).toEqual([]);
    });

    it('answers a document keyed by output id', async () => {
      const reply = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'hello' }, response: 'document' });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ echoInput: 'hello' });
      expect(errors10('results', reply.body)).toEqual([]);
      expect(errorsExecuteSync(reply.body)).toEqual([]);
    });

    it('answers raw by reference with 204 and one Link header per output', async () => {
      const reply = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'linked' }, outputs: { echoInput: { transmissionMode: 'reference' } } });
      expect(reply.status).toBe(204);
      const link = reply.headers.get('link') ?? '';
      const [, href] = /^<([^>]+)>;\s*rel="([^"]+)"/.exec(link) ?? [];
      expect(href).toMatch(new RegExp(`^${base}/jobs/[^/]+/files/`));
      expect(link).toContain(`rel="${REL}results"`);
      expect((await call(href)).text).toBe('linked');
    });

    it('answers a document by reference with links', async () => {
      const reply = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'doc-linked' }, outputs: { echoInput: { transmissionMode: 'reference' } }, response: 'document' });
      expect(reply.status).toBe(200);
      expect(errors10('results', reply.body)).toEqual([]);
      expect(reply.body.echoInput.href).toMatch(new RegExp(`^${base}/jobs/`));
      expect((await call(reply.body.echoInput.href)).text).toBe('doc-linked');
    });

    it('answers raw with several outputs as multipart/related', async () => {
      const response = await fetch(`${base}/processes/multi/execution`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ inputs: { label: 'x', numbers: [1, 2.5] }, outputs: { text: {}, sum: {}, image: {}, report: { transmissionMode: 'reference' } } }),
      });
      expect(response.status).toBe(200);
      const contentType = response.headers.get('content-type') ?? '';
      expect(contentType).toMatch(/^multipart\/related; boundary=/);
      const parts = multipartParts(contentType, Buffer.from(await response.arrayBuffer()));
      expect(parts.map((part) => part.headers['content-id'])).toEqual(['<text>', '<sum>', '<image>', '<report>']);
      expect(parts[0].content.toString()).toBe('label x');
      expect(JSON.parse(parts[1].content.toString())).toBe(3.5);
      expect(parts[2].headers['content-type']).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
      expect(parts[2].content).toHaveLength(1000);
      expect(parts[3].headers['content-type']).toMatch(/^message\/external-body; access-type=URL; URL="http:\/\/127\.0\.0\.1/);
    });

    it('answers raw with one file output by value as the file itself', async () => {
      const response = await fetch(`${base}/processes/multi/execution`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ inputs: { label: 'x', numbers: 1 }, outputs: { image: {} } }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes).toHaveLength(1000);
      expect(bytes[255]).toBe(255);
    });

    it('answers a document with file outputs as absolute links and objects as qualified values', async () => {
      const reply = await postJson(`${base}/processes/multi/execution`, { inputs: { label: 'doc', numbers: [4], area: { bbox: [5, 45, 6, 46] } }, response: 'document' });
      expect(reply.status).toBe(200);
      expect(errors10('results', reply.body)).toEqual([]);
      expect(reply.body.text).toBe('label doc');
      expect(reply.body.sum).toBe(4);
      expect(reply.body.summary).toEqual({ value: { label: 'doc', count: 1 }, mediaType: 'application/json' });
      expect(reply.body.report).toMatchObject({ href: expect.stringMatching(new RegExp(`^${base}/jobs/[^/]+/files/report.json$`)), type: 'application/json' });
      const report = await call(reply.body.report.href);
      expect(report.body).toEqual({ label: 'doc', count: 1, area: { bbox: [5, 45, 6, 46] } });
      expect(reply.body.image.href).toMatch(/\/files\/cog\/image\.tif$/);
    });

    it('accepts qualified values and by-reference inputs', async () => {
      const qualified = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: { value: 'qualified', mediaType: 'text/plain' } } });
      expect(qualified.text).toBe('qualified');
      const byReference = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: { href: `${referencesUrl}/text` } } });
      expect(byReference.text).toBe('from a reference');
      const numbers = await postJson(`${base}/processes/multi/execution`, { inputs: { label: 'r', numbers: [{ href: `${referencesUrl}/number` }, 1] }, outputs: { sum: {} } });
      expect(numbers.text).toBe('8');
    });

    it('answers a failed job with 500 and its exception', async () => {
      const reply = await postJson(`${base}/processes/multi/execution`, { inputs: { label: 'f', numbers: 1, fail: true } });
      expect(reply.status).toBe(500);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(errors10('exception', reply.body)).toEqual([]);
      expect(reply.body.type).toMatch(/^http:\/\/www\.opengis\.net\/def\/exceptions\//);
      expect(reply.body.detail).toContain('failing as asked');
    });

    it('stores the validated request with defaults applied', async () => {
      const reply = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'defaults' } }, { Prefer: 'respond-async' });
      const job = await server.backend.store.get(reply.body.jobID);
      expect(job?.request).toEqual({ inputs: { echoInput: 'defaults', pause: 0 }, response: 'raw' });
    });
  });

  describe('asynchronous execution', () => {
    it.each(['respond-async', 'Respond-Async ; wait=10', 'wait=10, respond-async', 'handling=lenient,RESPOND-ASYNC'])(
      'honours Prefer: %s with 201, Location and Preference-Applied',
      async (prefer) => {
        const reply = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'later' } }, { Prefer: prefer });
        expect(reply.status).toBe(201);
        expect(reply.headers.get('preference-applied')).toBe('respond-async');
        expect(statusInfoErrors(reply.body)).toEqual([]);
        expect(reply.body).toMatchObject({ jobID: expect.any(String), id: reply.body.jobID, type: 'process', processID: 'echo', status: 'accepted' });
        expect(reply.headers.get('location')).toBe(`${base}/jobs/${reply.body.jobID}`);
        const status = await call(reply.headers.get('location')!);
        expect(status.status).toBe(200);
        const done = await waitForJob(base, reply.body.jobID);
        expect(done.status).toBe('successful');
        expect((await call(`${base}/jobs/${reply.body.jobID}/results`)).text).toBe('later');
      },
    );

    it('runs an async-only process as a job without a Prefer header, without Preference-Applied', async () => {
      const reply = await postJson(`${base}/processes/async-only/execution`, {});
      expect(reply.status).toBe(201);
      expect(reply.headers.get('preference-applied')).toBeNull();
      await waitForJob(base, reply.body.jobID);
      expect((await call(`${base}/jobs/${reply.body.jobID}/results`)).text).toBe('42');
    });

    it('builds the Location from X-Forwarded-Proto and X-Forwarded-Host', async () => {
      const reply = await postJson(`${base}/processes/echo/execution`, { inputs: { echoInput: 'proxied' } }, { Prefer: 'respond-async', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'maps.example.org' });
      expect(reply.headers.get('location')).toBe(`https://maps.example.org/jobs/${reply.body.jobID}`);
      expect(reply.body.links.find((link: any) => link.rel === 'self').href).toMatch(/^https:\/\/maps\.example\.org\/jobs\//);
    });
  });

  describe('callbacks', () => {
    it('posts the results document to the subscriber when the job succeeds', async () => {
      const received: Array<{ url: string; body: any }> = [];
      const receiver = createServer((req, res) => {
        let text = '';
        req.on('data', (chunk) => (text += chunk));
        req.on('end', () => {
          received.push({ url: req.url ?? '', body: JSON.parse(text) });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      try {
        const reply = await postJson(
          `${base}/processes/echo/execution`,
          { inputs: { echoInput: 'called back' }, subscriber: { successUri: `${receiverUrl}/success`, failedUri: `${receiverUrl}/failed` } },
          { Prefer: 'respond-async' },
        );
        expect(reply.status).toBe(201);
        const deadline = Date.now() + 10_000;
        while (!received.some((call) => call.url === '/success') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        const success = received.find((call) => call.url === '/success');
        expect(success?.body).toEqual({ echoInput: 'called back' });
        expect(errors10('results', success?.body)).toEqual([]);
      } finally {
        await new Promise((resolve) => receiver.close(resolve));
      }
    });
  });

  describe('invalid execute requests', () => {
    const expectProblem = async (processId: string, body: unknown, type: string, ...named: string[]) => {
      const before = await jobCount();
      const reply = await postJson(`${base}/processes/${processId}/execution`, body);
      expect(reply.status).toBe(400);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(errors10('exception', reply.body)).toEqual([]);
      expect(reply.body.type).toBe(`${EXCEPTIONS}${type}`);
      for (const name of named) expect(reply.body.detail).toContain(name);
      expect(await jobCount()).toBe(before);
    };

    it('names a missing required input (MissingParameterValue)', () => expectProblem('echo', { inputs: {} }, 'MissingParameterValue', 'echoInput'));
    it('names an input of the wrong type', () => expectProblem('echo', { inputs: { echoInput: 12 } }, 'InvalidParameterValue', 'echoInput'));
    it('names an input out of range', () => expectProblem('echo', { inputs: { echoInput: 'a', pause: -1 } }, 'InvalidParameterValue', 'pause'));
    it('names an unknown input', () => expectProblem('echo', { inputs: { echoInput: 'a', colour: 'red' } }, 'InvalidParameterValue', 'colour'));
    it('names every bad input at once', () => expectProblem('multi', { inputs: { label: '', numbers: [1, 2, 3, 4] } }, 'InvalidParameterValue', 'label', 'numbers'));
    it('respects exclusive minimums', () => expectProblem('multi', { inputs: { label: 'a', numbers: 0 } }, 'InvalidParameterValue', 'numbers'));
    it('rejects a malformed bbox', () => expectProblem('multi', { inputs: { label: 'a', numbers: 1, area: { bbox: [1, 2] } } }, 'InvalidParameterValue', 'area'));
    it('runs the plug-in check', () => expectProblem('multi', { inputs: { label: 'a', numbers: 1, even: 3 } }, 'InvalidParameterValue', 'even', 'not even'));
    it('rejects an unknown output id', () => expectProblem('echo', { inputs: { echoInput: 'a' }, outputs: { nope: {} } }, 'InvalidParameterValue', 'nope'));
    it('rejects an unsupported transmission mode', () => expectProblem('async-only', { outputs: { answer: { transmissionMode: 'reference' } } }, 'InvalidParameterValue', 'transmissionMode'));
    it('rejects an unknown response form', () => expectProblem('echo', { inputs: { echoInput: 'a' }, response: 'xml' }, 'InvalidParameterValue', 'response'));
    it('rejects a body that is not an object', () => expectProblem('echo', [1, 2], 'InvalidParameterValue'));
    it('rejects malformed JSON', () => expectProblem('echo', '{"inputs": {', 'InvalidParameterValue', 'JSON'));
    it('rejects an unreadable reference', () => expectProblem('echo', { inputs: { echoInput: { href: `${referencesUrl}/missing` } } }, 'InvalidParameterValue', 'echoInput', '404'));
    it('rejects inherited property names as input or output ids', () =>
      expectProblem('echo', JSON.parse('{"inputs":{"echoInput":"a","__proto__":{}},"outputs":{"constructor":{}}}'), 'InvalidParameterValue', '__proto__', 'constructor'));
    it('rejects a bad subscriber', () => expectProblem('echo', { inputs: { echoInput: 'a' }, subscriber: { successUri: 'not a uri' } }, 'InvalidParameterValue', 'successUri'));
  });
});
