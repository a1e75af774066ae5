/**
 * Raster reader benchmark (`npx tsx bench/raster.ts`): full-resolution and 1/10 overview reads of a
 * 10980×10980 UInt16 DEFLATE COG (1024-px tiles) served over HTTP on 127.0.0.1, ours against GDAL's /vsicurl/
 * in the same run; tile decode throughput (calling thread vs worker pool); warp throughput. Median of 3 runs.
 * The COG is generated once with GDAL and cached under .tmp/bench/. The file server runs in a child process
 * so that neither client shares its event loop with it.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { closeSharedDecodePool, forgetOpenCogs, openCog, poolDecoder, syncDecoder, type TileDecoder } from '../src/raster/cog-reader';
import { transformer } from '../src/raster/crs';
import { RangeClient } from '../src/raster/http-client';
import { readToGrid } from '../src/raster/read-to-grid';
import { TileCache } from '../src/raster/tile-cache';
import type { Grid } from '../src/raster/types';
import { warp } from '../src/raster/warp';
import { RangeServer } from '../test/helpers/range-server';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..');
const DATA_DIR = path.join(ROOT, '.tmp', 'bench');
const FILE = 'bench-10980-u16-deflate-1024.tif';
const SIZE = 10980;
const RUNS = 3;

const MAKE_COG = `
import sys
import numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
size = ${SIZE}
rng = np.random.default_rng(42)
mem = gdal.GetDriverByName('MEM').Create('', size, size, 1, gdal.GDT_UInt16)
mem.SetGeoTransform((600000, 10, 0, 5300040, 0, -10))
srs = osr.SpatialReference(); srs.ImportFromEPSG(32610); mem.SetProjection(srs.ExportToWkt())
x = np.arange(size, dtype=np.float32)
for start in range(0, size, 1098):
    y = np.arange(start, min(size, start + 1098), dtype=np.float32)[:, None]
    field = 3000 + 1500 * np.sin(x / 211.0) * np.cos(y / 157.0) + 800 * np.sin((x + 2 * y) / 53.0)
    noise = rng.normal(0, 40, (y.shape[0], size))
    mem.GetRasterBand(1).WriteArray(np.clip(field + noise, 1, 65535).astype(np.uint16), 0, start)
gdal.Translate(sys.argv[1], mem, format='COG', creationOptions=['COMPRESS=DEFLATE', 'PREDICTOR=2', 'BLOCKSIZE=1024', 'NUM_THREADS=ALL_CPUS'])
`;

const GDAL_READ = `
import sys, time
from osgeo import gdal
gdal.UseExceptions()
gdal.SetConfigOption('GDAL_DISABLE_READDIR_ON_OPEN', 'EMPTY_DIR')
gdal.SetConfigOption('GDAL_NUM_THREADS', sys.argv[2])
started = time.perf_counter()
ds = gdal.Open('/vsicurl/' + sys.argv[1])
array = ds.GetRasterBand(1).ReadAsArray()
print(time.perf_counter() - started, int(array.sum() % 1000))
`;

// ---------------------------------------------------------------------------------------------------------------
// The file server child process

interface ServerStats {
  requests: number;
  bytesSent: number;
}

async function serveForever(root: string): Promise<void> {
  const server = await RangeServer.start(root);
  process.on('message', (message: string) => {
    if (message === 'reset') server.resetCounters();
    process.send!({ requests: server.requests, bytesSent: server.bytesSent, port: server.port });
  });
  process.send!({ port: server.port, requests: 0, bytesSent: 0 });
}

class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(root: string): Promise<ServerProcess> {
    const child = fork(__filename, ['--serve', root], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', resolve as (m: unknown) => void));
    return new ServerProcess(child, port);
  }

  private ask(message: string): Promise<ServerStats> {
    return new Promise((resolve) => {
      this.child.once('message', resolve as (m: unknown) => void);
      this.child.send(message);
    });
  }

  reset(): Promise<ServerStats> {
    return this.ask('reset');
  }

  stats(): Promise<ServerStats> {
    return this.ask('stats');
  }

  stop(): void {
    this.child.kill();
  }
}

// ---------------------------------------------------------------------------------------------------------------

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

async function ensureCog(): Promise<string> {
  mkdirSync(DATA_DIR, { recursive: true });
  const file = path.join(DATA_DIR, FILE);
  if (!existsSync(file)) {
    console.log(`generating ${file} (once) …`);
    await run(PYTHON, ['-c', MAKE_COG, file], { maxBuffer: 1 << 24 });
  }
  return file;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function ourFullRead(url: string, server: ServerProcess): Promise<{ ms: number; requests: number; bytes: number }> {
  await server.reset();
  forgetOpenCogs();
  const client = new RangeClient();
  const { ms } = await timed(async () => {
    const reader = await openCog(url, { client });
    return reader.readWindow(0, { x: 0, y: 0, width: SIZE, height: SIZE }, { client, cache: new TileCache(0) });
  });
  client.close();
  const stats = await server.stats();
  return { ms, requests: stats.requests, bytes: stats.bytesSent };
}

async function gdalFullRead(url: string, threads: string): Promise<number> {
  const { stdout } = await run(PYTHON, ['-c', GDAL_READ, url, threads], { maxBuffer: 1 << 20 });
  return Number(stdout.trim().split(' ')[0]) * 1000;
}

async function ourOverviewRead(url: string, grid: Grid, server: ServerProcess) {
  await server.reset();
  forgetOpenCogs();
  const client = new RangeClient();
  const { ms, value } = await timed(() => readToGrid(url, grid, { client, cache: new TileCache(0) }));
  client.close();
  const stats = await server.stats();
  return { ms, level: value.level, requests: stats.requests, bytes: stats.bytesSent };
}

async function gdalOverviewRead(url: string, server: ServerProcess) {
  await server.reset();
  const output = path.join(DATA_DIR, 'gdal-outsize-10.tif');
  const { ms } = await timed(() =>
    run('gdal_translate', ['-q', '-outsize', '10%', '10%', '--config', 'GDAL_DISABLE_READDIR_ON_OPEN', 'EMPTY_DIR', `/vsicurl/${url}`, output]),
  );
  const stats = await server.stats();
  return { ms, requests: stats.requests, bytes: stats.bytesSent };
}

/** Decodes every compressed level-0 tile with `decoder`; returns decoded MB/s. */
async function decodeThroughput(tiles: Uint8Array[], decoder: TileDecoder, parallel: boolean): Promise<number> {
  const layout = { width: 1024, height: 1024, samplesPerPixel: 1, bitsPerSample: 16, sampleFormat: 1 as const, planarConfiguration: 1 as const, predictor: 2 as const, compression: 8, littleEndian: true };
  // The pool takes ownership of (detaches) a buffer it is handed whole: give it copies, so later runs have data.
  const inputs = parallel ? tiles.map((tile) => tile.slice()) : tiles;
  const { ms } = await timed(async () => {
    if (parallel) await Promise.all(inputs.map((tile) => decoder(tile, layout)));
    else for (const tile of tiles) await decoder(tile, layout);
  });
  return (tiles.length * 1024 * 1024 * 2) / 1e6 / (ms / 1000);
}

async function compressedTiles(file: string): Promise<Uint8Array[]> {
  const { stdout } = await run(PYTHON, ['-c', `
import sys
from osgeo import gdal
ds = gdal.Open(sys.argv[1])
b = ds.GetRasterBand(1)
n = (ds.RasterXSize + 1023) // 1024
for j in range(n):
    for i in range(n):
        print(b.GetMetadataItem('BLOCK_OFFSET_%d_%d' % (i, j), 'TIFF'), b.GetMetadataItem('BLOCK_SIZE_%d_%d' % (i, j), 'TIFF'))
`, file]);
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(file);
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.split(' ').map(Number))
    .map(([offset, length]) => new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length).slice());
}

async function main(): Promise<void> {
  const file = await ensureCog();
  const server = await ServerProcess.start(DATA_DIR);
  const url = `http://127.0.0.1:${server.port}/${FILE}`;
  try {
    console.log(`COG: ${FILE} (${SIZE}×${SIZE} UInt16, DEFLATE + predictor 2, 1024-px tiles), served on 127.0.0.1; median of ${RUNS} runs\n`);

    const ours = [];
    const gdalSingle = [];
    const gdalThreads = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await ourFullRead(url, server));
      gdalSingle.push(await gdalFullRead(url, '1'));
      gdalThreads.push(await gdalFullRead(url, 'ALL_CPUS'));
    }
    console.log('Full-resolution read (whole band into one array)');
    console.log(`  ours (DecodePool, ${ours[0].requests} requests, ${megabytes(ours[0].bytes)}): ${seconds(median(ours.map((r) => r.ms)))}  [runs: ${ours.map((r) => seconds(r.ms)).join(', ')}]`);
    console.log(`  GDAL ReadAsArray /vsicurl/, GDAL_NUM_THREADS=1:        ${seconds(median(gdalSingle))}  [runs: ${gdalSingle.map(seconds).join(', ')}]`);
    console.log(`  GDAL ReadAsArray /vsicurl/, GDAL_NUM_THREADS=ALL_CPUS: ${seconds(median(gdalThreads))}  [runs: ${gdalThreads.map(seconds).join(', ')}]\n`);

    const grid: Grid = { epsg: 32610, transform: [600000, 100, 0, 5300040, 0, -100], width: SIZE / 10, height: SIZE / 10 };
    const overviewOurs = [];
    const overviewGdal = [];
    for (let i = 0; i < RUNS; i++) {
      overviewOurs.push(await ourOverviewRead(url, grid, server));
      overviewGdal.push(await gdalOverviewRead(url, server));
    }
    const o = overviewOurs[0];
    const g = overviewGdal[0];
    console.log('Overview read at 1/10 resolution (1098×1098 grid, 100 m)');
    console.log(`  ours readToGrid (level ${o.level}): ${seconds(median(overviewOurs.map((r) => r.ms)))}, ${o.requests} requests, ${megabytes(o.bytes)}  [runs: ${overviewOurs.map((r) => seconds(r.ms)).join(', ')}]`);
    console.log(`  gdal_translate -outsize 10% 10% /vsicurl/: ${seconds(median(overviewGdal.map((r) => r.ms)))}, ${g.requests} requests, ${megabytes(g.bytes)}  [runs: ${overviewGdal.map((r) => seconds(r.ms)).join(', ')}]\n`);

    try {
      const tiles = await compressedTiles(file);
      const syncRates = [];
      const poolRates = [];
      for (let i = 0; i < RUNS; i++) {
        syncRates.push(await decodeThroughput(tiles, syncDecoder, false));
        poolRates.push(await decodeThroughput(tiles, poolDecoder, true));
      }
      console.log(`Tile decode (DEFLATE + predictor 2, ${tiles.length} tiles of 1024×1024 UInt16; MB/s of decoded samples)`);
      console.log(`  calling thread: ${median(syncRates).toFixed(0)} MB/s   worker pool: ${median(poolRates).toFixed(0)} MB/s\n`);
    } catch (error) {
      console.log(`Tile decode benchmark failed: ${(error as Error).message}\n`);
    }

    const source = await (await openCog(url)).readWindow(0, { x: 0, y: 0, width: SIZE, height: SIZE }, { cache: new TileCache(0) });
    const sourceBlock = { data: source, width: SIZE, height: SIZE, offsetX: 0, offsetY: 0, geoTransform: [600000, 10, 0, 5300040, 0, -10] as Grid['transform'], epsg: 32610 };
    const [centreX, centreY] = transformer(32610, 32611)(600000 + SIZE * 5, 5300040 - SIZE * 5);
    const target: Grid = { epsg: 32611, transform: [Math.round(centreX / 20) * 20 - 50000, 20, 0, Math.round(centreY / 20) * 20 + 50000, 0, -20], width: 5000, height: 5000 };
    for (const resampling of ['nearest', 'bilinear'] as const) {
      const times = [];
      for (let i = 0; i < RUNS; i++) times.push((await timed(async () => warp(sourceBlock, target, { resampling }))).ms);
      const rate = (target.width * target.height) / 1e6 / (median(times) / 1000);
      console.log(`Warp EPSG:32610 → 32611, ${target.width}×${target.height} output, ${resampling}: ${rate.toFixed(1)} Mpx/s (${seconds(median(times))})`);
    }
  } finally {
    server.stop();
    await closeSharedDecodePool();
  }
}

if (process.argv[2] === '--serve') {
  serveForever(process.argv[3]).catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
