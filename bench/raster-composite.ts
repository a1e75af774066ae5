/**
 * Median compositing figures: 10 uint16 layers with 30% nodata, one thread and split over worker threads
 * (shared memory, threads claiming pixel chunks), against numpy's nanmedian on the same data; the true-colour
 * stretch on three composite bands. Run: npx tsx bench/raster-composite.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { medianComposite } from '../src/raster/composite';
import { trueColor } from '../src/raster/true-color';
import { prng } from '../test/helpers/prng';

const WIDTH = 2048;
const HEIGHT = 2048;
const LAYERS = 10;
const NODATA_SHARE = 0.3;
const PIXELS = WIDTH * HEIGHT;

function sharedLayers(): Uint16Array[] {
  const random = prng(99);
  return Array.from({ length: LAYERS }, () => {
    const layer = new Uint16Array(new SharedArrayBuffer(PIXELS * 2));
    for (let i = 0; i < PIXELS; i++) layer[i] = random() < NODATA_SHARE ? 0 : 1 + Math.floor(random() * 5000);
    return layer;
  });
}

/** Pixels per claimed chunk: threads claim chunks from a shared counter, so a slowed thread does less. */
const CHUNK = 65536;

/** A thread claiming chunks of the median into shared memory until none is left, on each message. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.tsxApi) require(workerData.tsxApi).register();
const { medianComposite } = require(workerData.compositeModule);
parentPort.on('message', ({ layers, out, next, chunk }) => {
  for (let start = Atomics.add(next, 0, chunk); start < out.length; start = Atomics.add(next, 0, chunk)) {
    medianComposite(layers, { nodata: 0, out, start, end: Math.min(out.length, start + chunk) });
  }
  parentPort.postMessage('done');
});
`;

function startWorkers(count: number): Worker[] {
  const workerData = { tsxApi: require.resolve('tsx/cjs/api'), compositeModule: require.resolve('../src/raster/composite') };
  return Array.from({ length: count }, () => new Worker(WORKER, { eval: true, workerData }));
}

async function medianOnWorkers(workers: Worker[], layers: Uint16Array[], out: Uint16Array): Promise<void> {
  const next = new Int32Array(new SharedArrayBuffer(4));
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve) => {
          worker.once('message', () => resolve());
          worker.postMessage({ layers, out, next, chunk: CHUNK });
        }),
    ),
  );
}

/** Best wall-clock and CPU seconds of `runs` runs (CPU time shows the per-thread speed on a busy machine). */
function bestOf(runs: number, run: () => void): { wall: number; cpu: number } {
  const best = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    run();
    const cpu = process.cpuUsage(cpuStart);
    best.wall = Math.min(best.wall, (performance.now() - start) / 1000);
    best.cpu = Math.min(best.cpu, (cpu.user + cpu.system) / 1e6);
  }
  return best;
}

function numpyNanmedian(layers: Uint16Array[], directory: string): string {
  const file = path.join(directory, 'layers.bin');
  writeFileSync(file, Buffer.concat(layers.map((layer) => Buffer.from(layer.buffer))));
  const script = `
import sys, time, warnings, numpy as np
warnings.simplefilter('ignore')
stack = np.fromfile(sys.argv[1], dtype='<u2').reshape(${LAYERS}, ${PIXELS})
best_all, best_core = 1e9, 1e9
for _ in range(3):
    start = time.perf_counter()
    data = stack.astype(np.float32)
    data[data == 0] = np.nan
    median = np.nanmedian(data, axis=0)
    best_all = min(best_all, time.perf_counter() - start)
    start = time.perf_counter()
    np.nanmedian(data, axis=0)
    best_core = min(best_core, time.perf_counter() - start)
print(f"numpy {np.__version__} nanmedian (incl. to-float+NaN): {best_all:.3f} s, {${PIXELS} / 1e6 / best_all:.1f} Mpx/s; nanmedian alone: {best_core:.3f} s, {${PIXELS} / 1e6 / best_core:.1f} Mpx/s")`;
  return execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' }).trim();
}

async function main(): Promise<void> {
  const directory = mkdtempSync(path.join(tmpdir(), 'bench-raster-composite-'));
  const megapixels = PIXELS / 1e6;
  try {
    const layers = sharedLayers();
    const out = new Uint16Array(new SharedArrayBuffer(PIXELS * 2));
    console.log(`${WIDTH}×${HEIGHT} px, ${LAYERS} uint16 layers, ${NODATA_SHARE * 100}% nodata, ${availableParallelism()} CPUs`);
    const single = bestOf(5, () => medianComposite(layers, { nodata: 0, out }));
    console.log(`medianComposite, 1 thread:   ${single.wall.toFixed(3)} s, ${(megapixels / single.wall).toFixed(1)} Mpx/s (${(megapixels / single.cpu).toFixed(1)} Mpx per CPU-second)`);
    const valid = layers.map((_, scene) => (scene % 2 === 0 ? Uint8Array.from({ length: PIXELS }, (_, i) => (i % 7 === 0 ? 0 : 1)) : undefined));
    const masked = bestOf(3, () => medianComposite(layers, { nodata: 0, out: new Uint16Array(PIXELS), valid }));
    console.log(`  with SCL masks on 5 layers: ${masked.wall.toFixed(3)} s, ${(megapixels / masked.wall).toFixed(1)} Mpx/s (${(megapixels / masked.cpu).toFixed(1)} Mpx per CPU-second)`);

    const threads = availableParallelism();
    const workers = startWorkers(threads);
    const parallelOut = new Uint16Array(new SharedArrayBuffer(PIXELS * 2));
    await medianOnWorkers(workers, layers, parallelOut);
    let parallel = Infinity;
    let parallelCpu = Infinity;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      await medianOnWorkers(workers, layers, parallelOut);
      const cpu = process.cpuUsage(cpuStart);
      parallel = Math.min(parallel, (performance.now() - start) / 1000);
      parallelCpu = Math.min(parallelCpu, (cpu.user + cpu.system) / 1e6);
    }
    await Promise.all(workers.map((worker) => worker.terminate()));
    const identical = Buffer.from(parallelOut.buffer).equals(Buffer.from(out.buffer));
    console.log(`medianComposite, ${threads} threads:  ${parallel.toFixed(3)} s, ${(megapixels / parallel).toFixed(1)} Mpx/s (same result: ${identical}; ${parallelCpu.toFixed(2)} CPU-s, ${(parallelCpu / parallel).toFixed(2)} cores busy on average)`);
    console.log(numpyNanmedian(layers, directory));

    const bands = [0, 1, 2].map((shift) => medianComposite([...layers.slice(shift), ...layers.slice(0, shift)], { nodata: 0 }) as Uint16Array);
    const stretch = bestOf(3, () => trueColor(bands[0], bands[1], bands[2], { nodata: 0 }));
    console.log(`trueColor on 3 composite bands: ${stretch.wall.toFixed(3)} s, ${(megapixels / stretch.wall).toFixed(1)} Mpx/s`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
