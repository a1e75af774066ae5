import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackDispatcher, resultsDocumentOf, statusInfoOf } from '../src/jobs/callbacks';
import { FileJobStore } from '../src/jobs/file-store';
import { newJobRecord, runJob } from '../src/jobs/runner';
import { ProcessRegistry } from '../src/ogc/registry';
import type { JobRecord, Subscriber } from '../src/jobs/types';
import { eventually, temporaryDir } from './jobs-helpers';

interface Received {
  path: string;
  body: unknown;
  answered: number;
}

/** A callback receiver on 127.0.0.1 that answers `statuses` in turn (then 200) and records every request. */
async function receiver(statuses: Record<string, number[]> = {}): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '';
      const answered = statuses[path]?.shift() ?? 200;
      received.push({ path, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), answered });
      response.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const quickRetries = { initialDelayMs: 20, maxDelayMs: 100, maxTotalMs: 5_000, requestTimeoutMs: 2_000, log: () => undefined };

function job(subscriber: Subscriber, patch: Partial<JobRecord> = {}): JobRecord {
  return { ...newJobRecord('echo', { inputs: { echoInput: 'x' }, response: 'document', subscriber }), ...patch };
}

describe('subscriber callbacks', () => {
  it('retries a failing receiver with backoff until it accepts, posting the results document', async () => {
    const server = await receiver({ '/success': [500, 503] });
    const dispatcher = new CallbackDispatcher(quickRetries);
    try {
      const succeeded = job(
        { successUri: `${server.url}/success` },
        { status: 'successful', results: { echoInput: 'x', mosaic: { href: '/jobs/1/files/m.tif', type: 'image/tiff' } } },
      );
      dispatcher.jobSucceeded(succeeded);
      await dispatcher.drain();
      expect(server.received.map((request) => request.answered)).toEqual([500, 503, 200]);
      expect(server.received[2].body).toEqual({ echoInput: 'x', mosaic: { href: '/jobs/1/files/m.tif', type: 'image/tiff' } });
    } finally {
      await dispatcher.close();
      await server.close();
    }
  });

  it('gives up after the bounded number of attempts and does not retry a 4xx answer', async () => {
    const server = await receiver({ '/always-down': [500, 500, 500, 500, 500], '/gone': [404, 404] });
    const dispatcher = new CallbackDispatcher({ ...quickRetries, maxAttempts: 3 });
    try {
      dispatcher.jobSucceeded(job({ successUri: `${server.url}/always-down` }, { status: 'successful', results: {} }));
      dispatcher.jobFailed(job({ failedUri: `${server.url}/gone` }, { status: 'failed' }));
      await dispatcher.drain();
      expect(server.received.filter((request) => request.path === '/always-down')).toHaveLength(3);
      expect(server.received.filter((request) => request.path === '/gone')).toHaveLength(1);
    } finally {
      await dispatcher.close();
      await server.close();
    }
  });

  it('posts the exception to failedUri', async () => {
    const server = await receiver();
    const dispatcher = new CallbackDispatcher(quickRetries);
    try {
      const exception = { type: 'NoApplicableCode', title: 'Process execution failed', detail: 'boom' };
      dispatcher.jobFailed(job({ failedUri: `${server.url}/failed`, successUri: `${server.url}/success` }, { status: 'failed', exception }));
      await dispatcher.drain();
      expect(server.received).toEqual([{ path: '/failed', body: exception, answered: 200 }]);
    } finally {
      await dispatcher.close();
      await server.close();
    }
  });

  it('throttles in-progress notifications and always sends the newest status', async () => {
    const server = await receiver();
    const dispatcher = new CallbackDispatcher({ ...quickRetries, progressIntervalMs: 100 });
    try {
      const running = job({ inProgressUri: `${server.url}/progress` }, { status: 'running' });
      for (let progress = 1; progress <= 30; progress++) dispatcher.jobProgressed({ ...running, progress });
      await eventually(() => server.received.some((request) => (request.body as { progress: number }).progress === 30));
      const progresses = server.received.map((request) => (request.body as { progress: number }).progress);
      expect(progresses[0]).toBe(1);
      expect(progresses.length).toBeLessThanOrEqual(3);
      expect(server.received[0].body).toMatchObject({ jobID: running.id, processID: 'echo', type: 'process', status: 'running' });
    } finally {
      await dispatcher.close();
      await server.close();
    }
  });

  it('makes file hrefs absolute and keeps only the requested outputs', () => {
    const finished = job({}, { status: 'successful', results: { a: { href: '/jobs/1/files/a.tif' }, b: 2 } });
    finished.request.outputs = { a: { transmissionMode: 'reference' } };
    expect(resultsDocumentOf(finished, 'http://example.org/api/')).toEqual({ a: { href: 'http://example.org/api/jobs/1/files/a.tif' } });
    expect(statusInfoOf({ ...finished, progress: 33.6 })).toMatchObject({ jobID: finished.id, progress: 34 });
  });

  it('delivers callbacks of a run without letting an unreachable receiver fail the job', async () => {
    const server = await receiver({ '/progress': [500] });
    const { dir, remove } = await temporaryDir('callbacks');
    const dispatcher = new CallbackDispatcher({ ...quickRetries, maxTotalMs: 300, progressIntervalMs: 10 });
    try {
      const store = await FileJobStore.open(dir);
      const unreachable = await receiver();
      await unreachable.close();
      const record = job({
        successUri: `${unreachable.url}/success`,
        inProgressUri: `${server.url}/progress`,
      });
      await store.create(record);
      const echo = ProcessRegistry.load().get('echo')!;
      const final = await runJob(record, {
        store,
        registry: new ProcessRegistry([echo], dir),
        outputRoot: dir,
        signal: new AbortController().signal,
        map: () => () => Promise.resolve([]),
        callbacks: dispatcher,
      });
      expect(final?.status).toBe('successful');
      await dispatcher.drain();
      const started = server.received.find((request) => request.answered === 200);
      expect(started?.body).toMatchObject({ jobID: record.id, status: 'running' });
    } finally {
      await dispatcher.close();
      await server.close();
      await remove();
    }
  });
});
