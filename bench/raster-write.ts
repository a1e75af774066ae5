/**
 * COG writing and tile decoding figures. Writes a 4096×4096×3 uint16 COG (DEFLATE + predictor 2, 512 tiles,
 * average overviews) with writeCog (async zlib on libuv's pool) and encodeCog (deflateSync, one thread), and
 * with gdal_translate -of COG on the same data; then decodes GDAL's full-resolution tiles synchronously and
 * on a DecodePool. Run: npx tsx bench/raster-write.ts  (try UV_THREADPOOL_SIZE=2 and 4).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { decodeTile, decodeTileAsync, type TileLayout } from '../src/raster/codecs';
import { encodeCog, writeCog, type CogInput } from '../src/raster/cog-writer';
import { DecodePool } from '../src/raster/decode-pool';
import { prng } from '../test/helpers/prng';

const SIZE = 4096;
const BANDS = 3;

/** Reflectance-like bands: smooth fields plus sensor noise (deterministic mulberry32 noise). */
function syntheticBands(): Uint16Array[] {
  const noise = prng(12345);
  return Array.from({ length: BANDS }, (_, band) => {
    const values = new Uint16Array(SIZE * SIZE);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const field = 1500 + 700 * Math.sin(x / 60 + band) * Math.cos(y / 85) + 300 * Math.sin((x + y) / 13);
        values[y * SIZE + x] = Math.max(1, Math.round(field + noise() * 120));
      }
    }
    return values;
  });
}

/** CPU seconds of all this process's threads since `start`. */
function cpuSeconds(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

function seconds(start: number): number {
  return (performance.now() - start) / 1000;
}

const megapixels = (SIZE * SIZE) / 1e6;
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

async function timeWriteCog(input: CogInput, file: string, level: number): Promise<number> {
  const start = performance.now();
  await writeCog(file, input, { deflateLevel: level });
  return seconds(start);
}

function gdalTranslate(rawHeaderFile: string, file: string, threads: string): number {
  const start = performance.now();
  execFileSync('gdal_translate', ['-q', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-co', 'OVERVIEW_RESAMPLING=AVERAGE', '-co', `NUM_THREADS=${threads}`, rawHeaderFile, file]);
  return seconds(start);
}

/** ENVI header over the raw band-sequential data, so GDAL reads exactly our pixels. */
function writeEnvi(directory: string, bands: Uint16Array[]): string {
  const raw = path.join(directory, 'input.bin');
  writeFileSync(raw, Buffer.concat(bands.map((band) => Buffer.from(band.buffer))));
  const header = ['ENVI', `samples = ${SIZE}`, `lines = ${SIZE}`, `bands = ${BANDS}`, 'header offset = 0', 'file type = ENVI Standard', 'data type = 12', 'interleave = bsq', 'byte order = 0', 'map info = {UTM, 1, 1, 500000, 5000000, 10, 10, 33, North, WGS-84}'];
  writeFileSync(path.join(directory, 'input.hdr'), header.join('\n') + '\n');
  return raw;
}

/** Offsets and sizes of the full-resolution tiles of a COG, as GDAL reports them. */
function tilesOf(file: string): { offset: number; size: number }[] {
  const script = `
import json, sys
from osgeo import gdal
dataset = gdal.Open(sys.argv[1])
band = dataset.GetRasterBand(1)
n = (band.XSize + 511) // 512
print(json.dumps([{'offset': int(band.GetMetadataItem(f'BLOCK_OFFSET_{c}_{r}', 'TIFF')), 'size': int(band.GetMetadataItem(f'BLOCK_SIZE_{c}_{r}', 'TIFF'))} for r in range(n) for c in range(n)]))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' }));
}

async function benchDecode(file: string): Promise<void> {
  const bytes = readFileSync(file);
  const tiles = tilesOf(file).map(({ offset, size }) => new Uint8Array(bytes.subarray(offset, offset + size)));
  const layout: TileLayout = { width: 512, height: 512, samplesPerPixel: BANDS, bitsPerSample: 16, sampleFormat: 1, planarConfiguration: 1, predictor: 2, compression: 8, littleEndian: true };
  const decodedBytes = tiles.length * 512 * 512 * BANDS * 2;
  const compressedBytes = tiles.reduce((sum, tile) => sum + tile.length, 0);
  for (const tile of tiles.slice(0, 4)) decodeTile(tile, layout);
  let start = performance.now();
  let cpuStart = process.cpuUsage();
  for (const tile of tiles) decodeTile(tile, layout);
  const syncSeconds = seconds(start);
  const syncCpu = cpuSeconds(cpuStart);
  const pool = new DecodePool(availableParallelism());
  await Promise.all(tiles.slice(0, 4).map((tile) => pool.decode(tile.slice(), layout)));
  const copies = tiles.map((tile) => tile.slice());
  start = performance.now();
  cpuStart = process.cpuUsage();
  await Promise.all(copies.map((tile) => pool.decode(tile, layout)));
  const poolSeconds = seconds(start);
  const poolCpu = cpuSeconds(cpuStart);
  await pool.close();
  start = performance.now();
  cpuStart = process.cpuUsage();
  await Promise.all(tiles.map((tile) => decodeTileAsync(tile, layout)));
  const asyncSeconds = seconds(start);
  const asyncCpu = cpuSeconds(cpuStart);
  const rate = (s: number): string => `${(decodedBytes / 2 ** 20 / s).toFixed(0)} MiB/s decoded (${(compressedBytes / 2 ** 20 / s).toFixed(0)} MiB/s compressed)`;
  console.log(`decode ${tiles.length} tiles of 512×512×3 uint16 DEFLATE+predictor 2 written by GDAL:`);
  console.log(`  decodeTile, synchronous:      ${syncSeconds.toFixed(3)} s, ${rate(syncSeconds)}, ${syncCpu.toFixed(2)} CPU-s`);
  console.log(`  DecodePool(${availableParallelism()}) threads:        ${poolSeconds.toFixed(3)} s, ${rate(poolSeconds)}, ${poolCpu.toFixed(2)} CPU-s`);
  console.log(`  decodeTileAsync (zlib pool):  ${asyncSeconds.toFixed(3)} s, ${rate(asyncSeconds)}, ${asyncCpu.toFixed(2)} CPU-s`);
}

async function main(): Promise<void> {
  const directory = mkdtempSync(path.join(tmpdir(), 'bench-raster-write-'));
  try {
    console.log(`UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default 4)'}, ${availableParallelism()} CPUs`);
    const bands = syntheticBands();
    const input: CogInput = { grid: { epsg: 32633, transform: [500000, 10, 0, 5000000, 0, -10], width: SIZE, height: SIZE }, dataType: 'uint16', bands };
    const ours = path.join(directory, 'ours.tif');
    await timeWriteCog(input, ours, 6);
    const asyncSeconds = await timeWriteCog(input, ours, 6);
    const oursBytes = statSync(ours).size;
    console.log(`writeCog (async deflate, level 6):     ${asyncSeconds.toFixed(2)} s, ${(megapixels / asyncSeconds).toFixed(1)} Mpx/s, ${mib(oursBytes)} MiB`);
    const fastSeconds = await timeWriteCog(input, path.join(directory, 'ours-l1.tif'), 1);
    console.log(`writeCog (async deflate, level 1):     ${fastSeconds.toFixed(2)} s, ${(megapixels / fastSeconds).toFixed(1)} Mpx/s, ${mib(statSync(path.join(directory, 'ours-l1.tif')).size)} MiB`);
    let start = performance.now();
    const chunks = encodeCog(input);
    const syncSeconds = seconds(start);
    console.log(`encodeCog (deflateSync, one thread):   ${syncSeconds.toFixed(2)} s, ${(megapixels / syncSeconds).toFixed(1)} Mpx/s, ${mib(chunks.reduce((sum, chunk) => sum + chunk.length, 0))} MiB`);

    const raw = writeEnvi(directory, bands);
    const gdalFile = path.join(directory, 'gdal.tif');
    const gdalOne = gdalTranslate(raw, gdalFile, '1');
    console.log(`gdal_translate -of COG NUM_THREADS=1:   ${gdalOne.toFixed(2)} s, ${(megapixels / gdalOne).toFixed(1)} Mpx/s, ${mib(statSync(gdalFile).size)} MiB`);
    const gdalAll = gdalTranslate(raw, gdalFile, 'ALL_CPUS');
    console.log(`gdal_translate -of COG ALL_CPUS:        ${gdalAll.toFixed(2)} s, ${(megapixels / gdalAll).toFixed(1)} Mpx/s, ${mib(statSync(gdalFile).size)} MiB`);
    start = performance.now();
    const valid = execFileSync('/usr/bin/python3', ['-m', 'osgeo_utils.samples.validate_cloud_optimized_geotiff', '--full-check=yes', ours], { encoding: 'utf8' });
    console.log(`validator on ours: ${valid.split('\n')[0]} (${seconds(start).toFixed(1)} s)`);
    await benchDecode(gdalFile);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
