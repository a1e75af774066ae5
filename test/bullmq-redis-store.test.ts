import { Redis } from 'ioredis';
import { RedisJobStore } from '../src/jobs/redis-store';
import type { JobFilter, JobRecord, JobStatus } from '../src/jobs/types';
import { deleteKeys, TEST_REDIS_URL, uniquePrefix } from './bullmq-helpers';

const STATUSES: JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];
const PROCESS_IDS = ['echo', 'mosaic', 'other'];
const BASE_TIME = Date.parse('2020-01-01T00:00:00Z');

function job(id: string, patch: Partial<JobRecord> = {}): JobRecord {
  const created = new Date(BASE_TIME).toISOString();
  return {
    id,
    processId: 'echo',
    type: 'process',
    status: 'accepted',
    created,
    updated: created,
    progress: 0,
    request: { inputs: { echoInput: 'x' }, response: 'document' },
    ...patch,
  };
}

/** A deterministic pseudo-random sequence, so a failing case can be replayed. */
function randomSequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** Jobs with varied process, type, status, created time (with ties) and duration. */
function generatedJobs(count: number): JobRecord[] {
  const random = randomSequence(42);
  return Array.from({ length: count }, (_, index) => {
    const created = BASE_TIME + Math.floor(random() * count) * 1000;
    const status = STATUSES[Math.floor(random() * STATUSES.length)];
    const record = job(`job-${String(index).padStart(5, '0')}`, {
      processId: PROCESS_IDS[Math.floor(random() * PROCESS_IDS.length)],
      type: (random() < 0.8 ? 'process' : 'other') as 'process',
      status,
      created: new Date(created).toISOString(),
    });
    if (status !== 'accepted') record.started = new Date(created + 1000).toISOString();
    if (status === 'successful' || status === 'failed') {
      record.finished = new Date(created + 1000 + Math.floor(random() * 100_000)).toISOString();
    }
    return record;
  });
}

/** The expected listing, computed naively: newest first, ties by id descending. */
function expectedIds(jobs: JobRecord[], filter: JobFilter): string[] {
  const now = Date.now();
  const from = filter.createdFrom ? Date.parse(filter.createdFrom) : -Infinity;
  const to = filter.createdTo ? Date.parse(filter.createdTo) : Infinity;
  return jobs
    .filter((record) => {
      const created = Date.parse(record.created);
      if (created < from || created > to) return false;
      if (filter.statuses?.length && !filter.statuses.includes(record.status)) return false;
      if (filter.processIds?.length && !filter.processIds.includes(record.processId)) return false;
      if (filter.types?.length && !filter.types.includes(record.type)) return false;
      if (filter.minDuration !== undefined || filter.maxDuration !== undefined) {
        if (!record.started) return false;
        const seconds = ((record.finished ? Date.parse(record.finished) : now) - Date.parse(record.started)) / 1000;
        if (filter.minDuration !== undefined && seconds < filter.minDuration) return false;
        if (filter.maxDuration !== undefined && seconds > filter.maxDuration) return false;
      }
      return true;
    })
    .sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || (a.id < b.id ? 1 : -1))
    .map((record) => record.id);
}

describe('RedisJobStore', () => {
  let redis: Redis;
  let prefix: string;
  let store: RedisJobStore;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  beforeEach(() => {
    prefix = uniquePrefix('store');
    store = new RedisJobStore(redis, { prefix });
  });

  afterEach(async () => {
    await deleteKeys(redis, prefix);
  });

  afterAll(async () => {
    await redis.quit();
  });

  describe('records', () => {
    it('stores and reads a record unchanged, nested values included', async () => {
      const record = job('a', {
        message: 'queued',
        request: {
          inputs: { list: [], nested: { empty: {}, numbers: [1.5, 1e-7, 123456789012345] } },
          outputs: { echoInput: { transmissionMode: 'value' } },
          response: 'raw',
          subscriber: { successUri: 'http://127.0.0.1/ok' },
        },
      });
      await store.create(record);
      expect(await store.get('a')).toEqual(record);
      expect(await store.get('missing')).toBeUndefined();
    });

    it('applies patches: progress never decreases, `updated` is set, undefined removes a field', async () => {
      await store.create(job('a', { message: 'hello' }));
      const running = await store.update('a', { status: 'running', progress: 40, updated: '2030-01-01T00:00:00.000Z' });
      expect(running).toMatchObject({ status: 'running', progress: 40, updated: '2030-01-01T00:00:00.000Z', message: 'hello' });
      const lower = await store.update('a', { progress: 10, message: undefined });
      expect(lower?.progress).toBe(40);
      expect(lower).not.toHaveProperty('message');
      expect(Date.parse(lower!.updated)).toBeGreaterThan(Date.parse(running!.created));
      expect(await store.update('missing', { progress: 5 })).toBeUndefined();
    });

    it('keeps id, created, processId and type as created', async () => {
      await store.create(job('a'));
      const patched = await store.update('a', { id: 'b', processId: 'mosaic', created: '2031-01-01T00:00:00Z' } as Partial<JobRecord>);
      expect(patched).toMatchObject({ id: 'a', processId: 'echo', created: job('a').created });
      expect((await store.list({ processIds: ['echo'], offset: 0, limit: 10 })).jobs.map((j) => j.id)).toEqual(['a']);
    });

    it('never lets a late non-final write overwrite a final status', async () => {
      await store.create(job('a', { status: 'running' }));
      await store.update('a', { status: 'dismissed', message: 'Job dismissed' });
      const lateProgress = await store.update('a', { progress: 60, message: 'paused 3 s' });
      expect(lateProgress).toMatchObject({ status: 'dismissed', message: 'Job dismissed', progress: 0 });
      expect(await store.update('a', { status: 'failed', message: 'aborted' })).toMatchObject({ status: 'dismissed' });
      expect(await store.update('a', { status: 'running' })).toMatchObject({ status: 'dismissed' });
      expect((await store.list({ statuses: ['dismissed'], offset: 0, limit: 10 })).jobs).toHaveLength(1);
    });

    it('lets a finished job be dismissed, and a final patch keep its status', async () => {
      await store.create(job('a', { status: 'running' }));
      await store.update('a', { status: 'successful', results: { echoInput: 'x' } });
      expect(await store.update('a', { status: 'successful', message: 'done' })).toMatchObject({ message: 'done' });
      const dismissed = await store.update('a', { status: 'dismissed', results: undefined });
      expect(dismissed?.status).toBe('dismissed');
      expect(dismissed).not.toHaveProperty('results');
    });

    it('publishes every status change on the status channel', async () => {
      const subscriber = new Redis(TEST_REDIS_URL);
      const messages: string[] = [];
      try {
        await subscriber.subscribe(store.statusChannel);
        subscriber.on('message', (_channel, message) => messages.push(message));
        await store.create(job('a'));
        await store.update('a', { status: 'running' });
        await store.update('a', { progress: 50 });
        await store.update('a', { status: 'successful' });
        await store.update('a', { status: 'running' });
        const deadline = Date.now() + 2000;
        while (messages.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(messages).toEqual(['a running', 'a successful']);
      } finally {
        subscriber.disconnect();
      }
    });
  });

  describe('listing', () => {
    const jobs = generatedJobs(3000);

    beforeEach(async () => {
      for (let start = 0; start < jobs.length; start += 500) {
        await Promise.all(jobs.slice(start, start + 500).map((record) => store.create(record)));
      }
    });

    const filters: Array<Omit<JobFilter, 'offset' | 'limit'>> = [
      {},
      { statuses: ['running'] },
      { statuses: ['successful', 'failed'] },
      { processIds: ['mosaic'] },
      { processIds: ['mosaic', 'other'], statuses: ['accepted'] },
      { types: ['other'], statuses: ['dismissed', 'running'] },
      { processIds: ['nothing-like-this'] },
      { createdFrom: new Date(BASE_TIME + 500_000).toISOString(), createdTo: new Date(BASE_TIME + 900_000).toISOString() },
      { createdFrom: new Date(BASE_TIME + 2_000_000).toISOString(), statuses: ['failed'] },
      { minDuration: 50 },
      { maxDuration: 20, processIds: ['echo'] },
      { minDuration: 10, maxDuration: 60, statuses: ['successful'], createdTo: new Date(BASE_TIME + 1_500_000).toISOString() },
    ];

    it.each(filters.map((filter) => [JSON.stringify(filter), filter]))('pages through %s like a full scan would', async (_name, filter) => {
      const expected = expectedIds(jobs, filter as JobFilter);
      const limit = 137;
      const listed: string[] = [];
      for (let offset = 0; ; offset += limit) {
        const page = await store.list({ ...(filter as JobFilter), offset, limit });
        listed.push(...page.jobs.map((record) => record.id));
        expect(page.more).toBe(offset + limit < expected.length);
        if (!page.more) break;
      }
      expect(listed).toEqual(expected);
    });

    it('resumes a filtered scan across script calls without skipping or repeating tied entries', async () => {
      const smallSteps = new RedisJobStore(redis, { prefix, scanBudget: 7 });
      for (const filter of [filters[2], filters[4], filters[10]]) {
        const expected = expectedIds(jobs, filter as JobFilter);
        const first = await smallSteps.list({ ...filter, offset: 0, limit: 50 });
        const deep = await smallSteps.list({ ...filter, offset: 101, limit: 50 });
        expect(first.jobs.map((record) => record.id)).toEqual(expected.slice(0, 50));
        expect(deep.jobs.map((record) => record.id)).toEqual(expected.slice(101, 151));
      }
    });

    it('returns full records, a deep offset and an empty page past the end', async () => {
      const expected = expectedIds(jobs, {} as JobFilter);
      const page = await store.list({ offset: 2990, limit: 20 });
      expect(page.jobs.map((record) => record.id)).toEqual(expected.slice(2990));
      expect(page.more).toBe(false);
      expect(page.jobs[0]).toEqual(jobs.find((record) => record.id === expected[2990]));
      expect(await store.list({ offset: 5000, limit: 20 })).toEqual({ jobs: [], more: false });
    });

    it('keeps the status indexes consistent with the records through concurrent updates', async () => {
      const random = randomSequence(7);
      const updates = jobs.slice(0, 600).map((record) => {
        const status = STATUSES[Math.floor(random() * STATUSES.length)];
        return store.update(record.id, { status, progress: Math.floor(random() * 100) });
      });
      await Promise.all(updates);
      const records = await Promise.all(jobs.map((record) => store.get(record.id)));
      for (const status of STATUSES) {
        const indexed = await redis.zrange(`${prefix}:idx:status:${status}`, 0, -1);
        const actual = records.filter((record) => record?.status === status).map((record) => record!.id);
        expect(indexed.sort()).toEqual(actual.sort());
      }
      expect(await redis.zcard(`${prefix}:idx:all`)).toBe(jobs.length);
    });
  });
});
