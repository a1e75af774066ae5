import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FileJobStore, JobIndex } from '../src/jobs/file-store';
import type { JobFilter, JobRecord, JobStatus } from '../src/jobs/types';
import { temporaryDir } from './jobs-helpers';

const STATUSES: JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];
const PROCESSES = ['echo', 'cloudless-mosaic', 'ndvi'];
const BASE_TIME = Date.parse('2026-01-01T00:00:00Z');

/** Job n: created n seconds after BASE_TIME (several share a second), running for n % 50 seconds once started. */
function syntheticJob(n: number): JobRecord {
  const created = BASE_TIME + Math.floor(n / 3) * 1000;
  const status = STATUSES[(n * 7) % STATUSES.length];
  const started = status === 'accepted' ? undefined : created + 1000;
  const finished = started !== undefined && status !== 'running' ? started + (n % 50) * 1000 : undefined;
  const iso = (time: number | undefined) => (time === undefined ? undefined : new Date(time).toISOString());
  return {
    id: `job-${String(n).padStart(6, '0')}`,
    processId: PROCESSES[n % 3 === 0 ? 0 : n % 7 === 0 ? 2 : 1],
    type: 'process',
    status,
    created: iso(created)!,
    started: iso(started),
    finished: iso(finished),
    updated: iso(finished ?? started ?? created)!,
    progress: status === 'successful' ? 100 : 0,
    request: { inputs: { n }, response: 'document' },
  };
}

/** The reference answer: filter every record, newest first, then page. */
function bruteForce(jobs: JobRecord[], filter: JobFilter, now: number): { ids: string[]; more: boolean } {
  const matching = jobs
    .filter((job) => !filter.statuses || filter.statuses.includes(job.status))
    .filter((job) => !filter.processIds || filter.processIds.includes(job.processId))
    .filter((job) => !filter.types || filter.types.includes(job.type))
    .filter((job) => !filter.createdFrom || Date.parse(job.created) >= Date.parse(filter.createdFrom))
    .filter((job) => !filter.createdTo || Date.parse(job.created) <= Date.parse(filter.createdTo))
    .filter((job) => {
      if (filter.minDuration === undefined && filter.maxDuration === undefined) return true;
      if (!job.started) return false;
      const seconds = ((job.finished ? Date.parse(job.finished) : now) - Date.parse(job.started)) / 1000;
      return seconds >= (filter.minDuration ?? 0) && seconds <= (filter.maxDuration ?? Infinity);
    })
    .sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || (a.id < b.id ? 1 : -1));
  return { ids: matching.slice(filter.offset, filter.offset + filter.limit).map((job) => job.id), more: matching.length > filter.offset + filter.limit };
}

const at = (n: number) => new Date(BASE_TIME + n * 1000).toISOString();

const FILTERS: JobFilter[] = [
  { offset: 0, limit: 20 },
  { offset: 99_990, limit: 20 },
  { offset: 40, limit: 20, statuses: ['failed'] },
  { offset: 0, limit: 20, statuses: ['running', 'accepted'], processIds: ['ndvi'] },
  { offset: 20, limit: 20, processIds: ['echo'] },
  { offset: 0, limit: 20, processIds: ['no-such-process'] },
  { offset: 0, limit: 20, types: ['process'], statuses: ['dismissed'] },
  { offset: 0, limit: 20, createdFrom: at(1000), createdTo: at(1010) },
  { offset: 5, limit: 20, createdFrom: at(30_000), statuses: ['successful'] },
  { offset: 0, limit: 20, createdTo: at(10) },
  { offset: 0, limit: 20, minDuration: 45, maxDuration: 47 },
  { offset: 0, limit: 20, minDuration: 10_000 },
  { offset: 0, limit: 20, maxDuration: 2, processIds: ['ndvi', 'echo'] },
];

describe('JobIndex over 100,000 jobs', () => {
  const jobs = Array.from({ length: 100_000 }, (_, n) => syntheticJob(n));
  const index = new JobIndex();
  index.putAll(jobs);
  // Running jobs' durations grow with the clock: one fixed "now" for the index and the reference.
  const now = BASE_TIME + 200_000_000;

  it.each(FILTERS.map((filter) => [JSON.stringify(filter), filter] as const))('lists %s like a full scan would', (_label, filter) => {
    const expected = bruteForce(jobs, filter, now);
    expect(index.query(filter, now)).toEqual(expected);
  });

  it('keeps the indexes right when jobs change status or are added out of order', () => {
    const changed = new JobIndex();
    const some = jobs.slice(0, 2_000);
    changed.putAll(some.slice(1_000));
    for (const job of some.slice(0, 1_000).reverse()) changed.put(job);
    const updated = some.map((job, n) => (n % 10 === 0 ? { ...job, status: 'failed' as const } : job));
    for (const job of updated.filter((_, n) => n % 10 === 0)) changed.put(job);
    for (const filter of [{ offset: 0, limit: 20, statuses: ['failed'] as JobStatus[] }, { offset: 100, limit: 50 }]) {
      expect(changed.query(filter, now)).toEqual(bruteForce(updated, filter, now));
    }
    changed.remove(updated[1_999].id);
    expect(changed.size).toBe(1_999);
    expect(changed.query({ offset: 0, limit: 1 }, now).ids).toEqual([updated[1_998].id]);
  });
});

describe('FileJobStore', () => {
  let dataDir: string;
  let removeDataDir: () => Promise<void>;

  beforeEach(async () => {
    ({ dir: dataDir, remove: removeDataDir } = await temporaryDir('file-store'));
  });
  afterEach(() => removeDataDir());

  it('creates, gets and updates records', async () => {
    const store = await FileJobStore.open(dataDir);
    const job: JobRecord = { ...syntheticJob(1), status: 'accepted', progress: 0 };
    await store.create(job);
    expect(await store.get(job.id)).toEqual(job);
    await expect(store.create(job)).rejects.toThrow('already exists');

    const updated = await store.update(job.id, { status: 'running', progress: 40, message: 'tile 4 of 10' });
    expect(updated).toMatchObject({ status: 'running', progress: 40, message: 'tile 4 of 10' });
    expect(Date.parse(updated!.updated)).toBeGreaterThanOrEqual(Date.parse(job.updated));
    expect(await store.update(job.id, { progress: 10 })).toMatchObject({ progress: 40 });
    expect(await store.update(job.id, { results: { a: 1 } })).toMatchObject({ results: { a: 1 } });
    expect((await store.update(job.id, { results: undefined }))?.results).toBeUndefined();
    expect(await store.get(job.id)).not.toHaveProperty('results');

    expect(await store.get('missing')).toBeUndefined();
    expect(await store.get('../escape')).toBeUndefined();
    expect(await store.update('missing', { progress: 5 })).toBeUndefined();
  });

  it('never loses one of many concurrent updates of a job', async () => {
    const store = await FileJobStore.open(dataDir);
    const job = syntheticJob(3);
    await store.create(job);
    await Promise.all(Array.from({ length: 30 }, (_, n) => store.update(job.id, { progress: n + 1 })));
    expect((await store.get(job.id))?.progress).toBe(30);
    expect(await readdir(path.join(dataDir, 'jobs'))).toEqual([`${job.id}.json`]);
  });

  it('lists with every filter and pages, and rebuilds its index when reopened', async () => {
    const jobs = Array.from({ length: 300 }, (_, n) => syntheticJob(n));
    const store = await FileJobStore.open(dataDir);
    for (const job of jobs) await store.create(job);
    await writeFile(path.join(dataDir, 'jobs', 'job-000001.json.tmp-deadbeef'), '{"half');

    const reopened = await FileJobStore.open(dataDir);
    expect(reopened.size).toBe(300);
    expect(await readdir(path.join(dataDir, 'jobs'))).not.toContain('job-000001.json.tmp-deadbeef');
    const filters: JobFilter[] = [
      { offset: 0, limit: 20 },
      { offset: 280, limit: 30 },
      { offset: 0, limit: 10, statuses: ['failed', 'dismissed'] },
      { offset: 3, limit: 10, processIds: ['ndvi'] },
      { offset: 0, limit: 10, types: ['process'] },
      { offset: 0, limit: 10, createdFrom: at(20), createdTo: at(40) },
      { offset: 0, limit: 10, minDuration: 10, maxDuration: 20, statuses: ['successful'] },
    ];
    for (const filter of filters) {
      // The duration filter here also asks for finished jobs, so the store's clock does not matter.
      const listed = await reopened.list(filter);
      const expected = bruteForce(jobs, filter, Date.now());
      expect({ ids: listed.jobs.map((job) => job.id), more: listed.more }).toEqual(expected);
      for (const listedJob of listed.jobs) expect(listedJob).toEqual(jobs[Number(listedJob.id.slice(4))]);
    }
    expect(reopened.idsWithStatus('accepted')).toEqual(jobs.filter((job) => job.status === 'accepted').map((job) => job.id));
  });

  it('moves a job between status lists when its status changes', async () => {
    const store = await FileJobStore.open(dataDir);
    const job = { ...syntheticJob(5), status: 'accepted' as const };
    await store.create(job);
    await store.update(job.id, { status: 'successful' });
    expect((await store.list({ offset: 0, limit: 10, statuses: ['accepted'] })).jobs).toEqual([]);
    expect((await store.list({ offset: 0, limit: 10, statuses: ['successful'] })).jobs.map((listed) => listed.id)).toEqual([job.id]);
  });
});
