/**
 * Embedded execution figures: unit pool overhead (trivial units per second over the worker threads), CPU-bound
 * speed-up over one thread, the time from dismiss to a busy-looping unit's thread being gone, and echo jobs per
 * second through the EmbeddedBackend. Run: npx tsx bench/jobs-units.ts
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessRegistry } from '../src/ogc/registry';
import { EmbeddedBackend } from '../src/jobs/embedded-backend';
import { newJobRecord } from '../src/jobs/runner';
import { UnitPool } from '../src/jobs/unit-pool';

const FIXTURES = path.resolve(__dirname, '../test/fixtures/jobs-processes');

async function mapSeconds(pool: UnitPool, count: number, busyMs: number): Promise<number> {
  const start = performance.now();
  await pool.map({ jobId: 'bench', processId: 'units-demo', signal: new AbortController().signal }, 'square',
    Array.from({ length: count }, (_, value) => ({ value, busyMs })));
  return (performance.now() - start) / 1000;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'bench-units-'));
  const registry = ProcessRegistry.load(FIXTURES);
  const threads = availableParallelism();
  const pool = new UnitPool({ registry, outputRoot: root, size: threads });
  const single = new UnitPool({ registry, outputRoot: root, size: 1 });
  try {
    await mapSeconds(pool, threads, 0);
    await mapSeconds(single, 1, 0);
    const trivial = await mapSeconds(pool, 5_000, 0);
    console.log(`trivial units over ${threads} threads: ${(5_000 / trivial).toFixed(0)} units/s`);
    const oneThread = await mapSeconds(single, 40, 25);
    const allThreads = await mapSeconds(pool, 40, 25);
    console.log(`40 × 25 ms CPU units: 1 thread ${oneThread.toFixed(2)} s, ${threads} threads ${allThreads.toFixed(2)} s (speed-up ${(oneThread / allThreads).toFixed(2)})`);

    const controller = new AbortController();
    const spinning = pool.map({ jobId: 'spin', processId: 'units-demo', signal: controller.signal }, 'spin', [{}]);
    spinning.catch(() => undefined);
    while (!existsSync(path.join(root, 'spin', 'heartbeat'))) await sleep(5);
    const abortedAt = performance.now();
    controller.abort(new Error('dismissed'));
    await spinning.catch(() => undefined);
    const abortedAtClock = Date.now();
    const rejectedAfter = performance.now() - abortedAt;
    await sleep(500);
    const lastBeat = Number(readFileSync(path.join(root, 'spin', 'heartbeat'), 'utf8'));
    console.log(`abort of a busy-looping unit: map rejected after ${rejectedAfter.toFixed(1)} ms; last heartbeat ${lastBeat - abortedAtClock} ms after the abort (beats every 20 ms)`);
  } finally {
    await pool.close();
    await single.close();
  }

  const backend = await EmbeddedBackend.create({ registry: ProcessRegistry.load(), outputDir: path.join(root, 'out'), dataDir: path.join(root, 'data') });
  try {
    const count = 500;
    const start = performance.now();
    const jobs = [];
    for (let n = 0; n < count; n++) {
      const job = newJobRecord('echo', { inputs: { echoInput: `echo ${n}`, pause: 0 }, response: 'document' });
      await backend.store.create(job);
      await backend.submit(job);
      jobs.push(job);
    }
    await Promise.all(jobs.map((job) => backend.waitForFinal(job.id)));
    const seconds = (performance.now() - start) / 1000;
    console.log(`echo jobs through EmbeddedBackend (create + run + final): ${(count / seconds).toFixed(0)} jobs/s`);

    const running = newJobRecord('echo', { inputs: { echoInput: 'long', pause: 60 }, response: 'document' });
    await backend.store.create(running);
    await backend.submit(running);
    while ((await backend.store.get(running.id))?.status !== 'running') await sleep(5);
    const dismissedAt = performance.now();
    await backend.dismiss(running.id);
    console.log(`dismiss of a running echo (pause 60 s): ${(performance.now() - dismissedAt).toFixed(1)} ms`);
  } finally {
    await backend.close();
    await rm(root, { recursive: true, force: true });
  }
}

void main();
