/**
 * npm run bench:mosaic — end-to-end cloudless-mosaic jobs on the synthetic bench data (48 scenes of 10 m bands over
 * two UTM zones, 3 months), through the embedded backend (unit threads) and through BullMQ (workers in the
 * process, Redis at REDIS_URL or 127.0.0.1:6379/0 under a bench-only key prefix), each case in a fresh process so
 * peak memory is its own. Prints seconds (the reference job: median of 3 runs), output megapixels per second, bytes
 * and requests read, peak RSS, and the CPU seconds of the job's process and of the STAC fixture's.
 *
 *   npm run bench:mosaic [-- --quick]    (--quick: skip the 10 m cases)
 */
import { execFileSync, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBackend, newJobRecord, type JobBackend } from '../src/jobs';
import { ProcessRegistry } from '../src/ogc/registry';
import { syntheticDataDir, BOUNDARY_LON } from '../test/fixtures/sentinel2';
import { deleteKeys } from '../test/bullmq-helpers';

/** The STAC API fixture in its own process, as a remote API would be; stopped when this process ends. */
interface RemoteFixture {
  url: string;
  counters(): Promise<{ assetBytes: number; assetRequests: number; cpuSeconds: number }>;
  close(): void;
}

async function startRemoteFixture(): Promise<RemoteFixture> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'scripts', 'stac-fixture.ts'), '--size', 'bench'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [chunk] = await once(child.stdout!, 'data');
  const counters = async () => {
    child.stdin!.write('counters\n');
    const [line] = await once(child.stdout!, 'data');
    return JSON.parse(String(line));
  };
  return { url: String(chunk).trim().split('\n')[0], counters, close: () => child.kill('SIGTERM') };
}

interface Case {
  name: string;
  months: 1 | 3;
  zones: 1 | 2;
  resolution: number;
  /** Unit threads (embedded) or BullMQ workers in the process. */
  threads: number;
  backend?: 'bullmq';
  runs?: number;
}

const CASES: Case[] = [
  { name: '1 month, 1 zone, 100 m', months: 1, zones: 1, resolution: 100, threads: 1 },
  { name: '1 month, 1 zone, 100 m', months: 1, zones: 1, resolution: 100, threads: 2 },
  { name: '1 month, 1 zone, 20 m', months: 1, zones: 1, resolution: 20, threads: 1 },
  { name: '1 month, 1 zone, 20 m', months: 1, zones: 1, resolution: 20, threads: 2 },
  { name: '3 months, 2 zones, 100 m', months: 3, zones: 2, resolution: 100, threads: 1 },
  { name: '3 months, 2 zones, 100 m', months: 3, zones: 2, resolution: 100, threads: 2 },
  { name: '3 months, 2 zones, 20 m', months: 3, zones: 2, resolution: 20, threads: 1 },
  { name: '3 months, 2 zones, 20 m', months: 3, zones: 2, resolution: 20, threads: 2 },
  { name: '3 months, 2 zones, 10 m (reference job)', months: 3, zones: 2, resolution: 10, threads: 1, runs: 3 },
  { name: '3 months, 2 zones, 10 m (reference job)', months: 3, zones: 2, resolution: 10, threads: 2, runs: 3 },
  { name: '3 months, 2 zones, 10 m, BullMQ', months: 3, zones: 2, resolution: 10, threads: 1, backend: 'bullmq' },
  { name: '3 months, 2 zones, 10 m, BullMQ', months: 3, zones: 2, resolution: 10, threads: 2, backend: 'bullmq' },
];

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

interface CaseResult {
  seconds: number;
  width: number;
  height: number;
  bytesRead: number;
  requests: number;
  peakRssMiB: number;
  /** CPU seconds of the job's process (all threads) and of the STAC fixture's, during the job. */
  cpuSeconds: number;
  fixtureCpuSeconds: number;
}

async function runCase(c: Case): Promise<CaseResult> {
  const dataDir = await syntheticDataDir('bench');
  const manifest = JSON.parse(readFileSync(path.join(dataDir, 'manifest.json'), 'utf8'));
  const [west, south, east, north] = manifest.aoi as number[];
  const aoi = c.zones === 2 ? [west, south, east, north] : [BOUNDARY_LON + 0.01, south, east, north];
  const stac = await startRemoteFixture();
  process.env.ALLOWED_STAC_APIS = stac.url;
  const root = mkdtempSync(path.join(tmpdir(), 'bench-mosaic-'));
  const registry = ProcessRegistry.load();
  const queuePrefix = `bench-mosaic-${process.pid}`;
  const backend = await createBackend({
    registry,
    outputDir: path.join(root, 'out'),
    dataDir: path.join(root, 'data'),
    unitThreads: c.threads,
    ...(c.backend === 'bullmq' ? { redisUrl: REDIS_URL, queuePrefix, workers: c.threads } : {}),
  });
  const inputs: Record<string, unknown> = {
    'start-date': '2020-10-01', 'end-date': c.months === 1 ? '2020-10-31' : '2020-12-31', aoi: aoi.join(','),
    bands: ['nir', 'red', 'green'], collection: 'sentinel-2-l2a', resolution: c.resolution, max_items: 1000,
    max_cloud_cover: 100, stac_api: stac.url, mask: [0, 1, 3, 8, 9, 10], harmonize: true,
  };
  try {
    return await measureJob(backend, stac, inputs, path.join(root, 'out'));
  } finally {
    await backend.close();
    stac.close();
    rmSync(root, { recursive: true, force: true });
    if (c.backend === 'bullmq') {
      const redis = new Redis(REDIS_URL);
      await deleteKeys(redis, queuePrefix);
      redis.disconnect();
    }
  }
}

async function measureJob(backend: JobBackend, stac: RemoteFixture, inputs: Record<string, unknown>, outputDir: string): Promise<CaseResult> {
  const job = newJobRecord('cloudless-mosaic', { inputs, response: 'document' });
  await backend.store.create(job);
  const fixtureCpuBefore = (await stac.counters()).cpuSeconds;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await backend.submit(job);
  const final = await backend.waitForFinal(job.id);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (final.status !== 'successful') throw new Error(`job ${final.status}: ${final.message}`);
  const month = path.join(outputDir, job.id, 'monthly-mosaic-2020-10', 'monthly-mosaic-2020-10.json');
  const item = JSON.parse(readFileSync(month, 'utf8'));
  const [height, width] = item.properties['proj:shape'];
  const { assetBytes: bytesRead, assetRequests: requests, cpuSeconds: fixtureCpuSeconds } = await stac.counters();
  return {
    seconds, width, height,
    bytesRead, requests,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    fixtureCpuSeconds: fixtureCpuSeconds - fixtureCpuBefore,
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--case') {
    console.log(JSON.stringify(await runCase(JSON.parse(process.argv[3]))));
    return;
  }
  const quick = process.argv.includes('--quick');
  await syntheticDataDir('bench');
  console.log('cloudless-mosaic end to end, synthetic bench data (48 scenes, 16 a month, 10 m bands), nir/red/green; embedded backend unless BullMQ');
  console.log('case                                        threads  seconds  grid         out Mpx/s  MiB read  requests  peak RSS MiB  CPU-s job  CPU-s fixture');
  for (const c of CASES.filter((c) => !quick || c.resolution > 10)) {
    const runs = Array.from({ length: c.runs ?? 1 }, () => {
      const output = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--case', JSON.stringify(c)], { maxBuffer: 1 << 24 }).toString();
      return JSON.parse(output.trim().split('\n').pop()!) as CaseResult;
    });
    const r = runs.sort((a, b) => a.seconds - b.seconds)[runs.length >> 1];
    const spread = runs.length > 1 ? `  (runs ${runs.map((run) => run.seconds.toFixed(1)).join(', ')} s)` : '';
    const outMpx = (r.width * r.height * c.months) / 1e6;
    console.log(
      `${c.name.padEnd(44)}${String(c.threads).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${`${r.width}×${r.height}`.padEnd(11)}` +
        `${(outMpx / r.seconds).toFixed(2).padStart(11)}  ${(r.bytesRead / 2 ** 20).toFixed(1).padStart(8)}  ${String(r.requests).padStart(8)}  ${r.peakRssMiB.toFixed(0).padStart(12)}` +
        `${r.cpuSeconds.toFixed(1).padStart(11)}  ${r.fixtureCpuSeconds.toFixed(1).padStart(13)}${spread}`,
    );
  }
  console.log('reference (stackstac + dask, 2 threads, same job shape at 10 m onto 1983 × 1665): 62 s, 5.5 GiB peak');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
