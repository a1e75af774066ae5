/** Shared set-up of the cloudless-mosaic tests: synthetic data, STAC fixture, the API with the real processes. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROCESSES_DIR } from '../../src/ogc/registry';
import { syntheticDataDir, type SizeName } from '../fixtures/sentinel2';
import { startStacFixture, type StacFixture, type StacFixtureOptions } from '../fixtures/stac-api';
import { startTestServer, type BackendKind, type TestServer } from './server';

export interface MosaicWorld {
  dataDir: string;
  aoi: [number, number, number, number];
  stac: StacFixture;
  server: TestServer;
  close(): Promise<void>;
}

export async function startMosaicWorld(
  size: SizeName,
  backend: BackendKind,
  fixture: Partial<StacFixtureOptions> = {},
): Promise<MosaicWorld> {
  const dataDir = await syntheticDataDir(size);
  const manifest = JSON.parse(readFileSync(path.join(dataDir, 'manifest.json'), 'utf8'));
  const stac = await startStacFixture({ dataDir, flavour: 'planetary-computer', ...fixture });
  process.env.ALLOWED_STAC_APIS = stac.url;
  const server = await startTestServer({ backend, processesDir: PROCESSES_DIR, queuePrefix: `mosaic-test-${backend}-${process.pid}-${Date.now()}` });
  return {
    dataDir,
    aoi: manifest.aoi,
    stac,
    server,
    async close() {
      await server.close();
      await stac.close();
    },
  };
}

export async function executeAsync(server: TestServer, inputs: Record<string, unknown>): Promise<{ status: number; jobUrl: string; body: any }> {
  const response = await fetch(`${server.baseUrl}/processes/cloudless-mosaic/execution`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'respond-async' },
    body: JSON.stringify({ inputs, response: 'document' }),
  });
  return { status: response.status, jobUrl: response.headers.get('location') ?? '', body: await response.json() };
}

export async function waitForJob(jobUrl: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status: any = await (await fetch(jobUrl)).json();
    if (['successful', 'failed', 'dismissed'].includes(status.status)) return status;
    if (Date.now() > deadline) throw new Error(`job still ${status.status} after ${timeoutMs} ms: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Runs a job to its end and returns its status and, when successful, its job folder. */
export async function runMosaic(world: MosaicWorld, inputs: Record<string, unknown>) {
  const submitted = await executeAsync(world.server, { stac_api: world.stac.url, aoi: world.aoi.join(','), ...inputs });
  if (submitted.status !== 201) throw new Error(`execute answered ${submitted.status}: ${JSON.stringify(submitted.body)}`);
  const status = await waitForJob(submitted.jobUrl);
  const jobId = submitted.jobUrl.split('/').pop()!;
  return { status, jobId, jobUrl: submitted.jobUrl, folder: path.join(world.server.outputDir, jobId) };
}

/** Pixels of a GeoTIFF as GDAL reads them (band after band), for comparing with an independent reader. */
export function readWithGdal(file: string): { bands: Uint16Array[]; width: number; height: number; info: any } {
  const info = JSON.parse(execFileSync('gdalinfo', ['-json', file]).toString());
  const [width, height] = info.size;
  const raw = path.join(mkdtempSync(path.join(tmpdir(), 'gdal-read-')), 'raw.bin');
  execFileSync('gdal_translate', ['-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', '-ot', 'UInt16', file, raw]);
  const bytes = readFileSync(raw);
  const all = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const bands = info.bands.map((_: unknown, i: number) => all.slice(i * width * height, (i + 1) * width * height));
  return { bands, width, height, info };
}

export function validateCog(file: string): string {
  return execFileSync('/usr/bin/python3', ['-m', 'osgeo_utils.samples.validate_cloud_optimized_geotiff', file]).toString();
}
