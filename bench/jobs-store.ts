/**
 * Job listing speed: the in-memory JobIndex over 100,000 jobs, and a FileJobStore reopened over 100,000 record
 * files (index rebuild time, then `list` of 20 with the common filters). Run: npx tsx bench/jobs-store.ts [count]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileJobStore, JobIndex } from '../src/jobs/file-store';
import type { JobFilter, JobRecord, JobStatus } from '../src/jobs/types';

const COUNT = Number(process.argv[2] ?? 100_000);
const STATUSES: JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];
const BASE = Date.parse('2026-01-01T00:00:00Z');

function job(n: number): JobRecord {
  const created = new Date(BASE + n * 1000).toISOString();
  // Mostly successful, a few of everything else, like a real server.
  const status = n % 100 === 0 ? STATUSES[(n / 100) % 5] : 'successful';
  return {
    id: `bench-${String(n).padStart(7, '0')}`,
    processId: n % 10 === 0 ? 'echo' : 'cloudless-mosaic',
    type: 'process',
    status,
    created,
    started: status === 'accepted' ? undefined : created,
    finished: status === 'successful' || status === 'failed' ? new Date(BASE + n * 1000 + (n % 600) * 1000).toISOString() : undefined,
    updated: created,
    progress: status === 'successful' ? 100 : 0,
    request: { inputs: { bbox: [5.9, 45.8, 10.5, 47.8], month: '2025-07' }, response: 'document' },
    results: status === 'successful' ? { mosaic: { href: `/jobs/bench-${n}/files/mosaic.tif`, type: 'image/tiff' } } : undefined,
  };
}

const FILTERS: Record<string, JobFilter> = {
  'newest 20': { offset: 0, limit: 20 },
  'page 100 (offset 2000)': { offset: 2_000, limit: 20 },
  'status=failed': { offset: 0, limit: 20, statuses: ['failed'] },
  'status=successful, offset 500': { offset: 500, limit: 20, statuses: ['successful'] },
  'processID=echo': { offset: 0, limit: 20, processIds: ['echo'] },
  'processID=echo & status=running': { offset: 0, limit: 20, processIds: ['echo'], statuses: ['running'] },
  'created in one day': { offset: 0, limit: 20, createdFrom: new Date(BASE + 30_000_000).toISOString(), createdTo: new Date(BASE + 30_086_400).toISOString() },
  'minDuration=590s': { offset: 0, limit: 20, minDuration: 590 },
};

async function timeMs<T>(work: () => Promise<T> | T, repeats: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint();
    await work();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
  const jobs = Array.from({ length: COUNT }, (_, n) => job(n));
  const index = new JobIndex();
  console.log(`JobIndex.putAll(${COUNT}): ${(await timeMs(() => new JobIndex().putAll(jobs), 3)).toFixed(1)} ms`);
  index.putAll(jobs);
  for (const [label, filter] of Object.entries(FILTERS)) {
    console.log(`JobIndex.query ${label}: ${(await timeMs(() => index.query(filter), 50)).toFixed(3)} ms (median of 50)`);
  }

  const dataDir = await mkdtemp(path.join(tmpdir(), 'bench-jobs-'));
  try {
    const folder = path.join(dataDir, 'jobs');
    await mkdir(folder, { recursive: true });
    let start = Date.now();
    for (let at = 0; at < jobs.length; at += 256) {
      await Promise.all(jobs.slice(at, at + 256).map((record) => writeFile(path.join(folder, `${record.id}.json`), JSON.stringify(record))));
    }
    console.log(`wrote ${COUNT} record files: ${Date.now() - start} ms`);
    start = Date.now();
    const store = await FileJobStore.open(dataDir);
    console.log(`FileJobStore.open over ${store.size} records (index rebuild): ${Date.now() - start} ms`);
    for (const [label, filter] of Object.entries(FILTERS)) {
      console.log(`FileJobStore.list ${label}: ${(await timeMs(() => store.list(filter), 20)).toFixed(2)} ms (median of 20)`);
    }
    const id = jobs[COUNT - 1].id;
    console.log(`FileJobStore.update progress: ${(await timeMs(() => store.update(id, { progress: 50 }), 50)).toFixed(2)} ms (median of 50)`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

void main();
