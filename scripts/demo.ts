/**
 * npm run demo — a newcomer's first run, offline: generates synthetic Sentinel-2 scenes, serves them through a
 * local STAC API, starts this server (embedded mode) on a free port, runs cloudless-mosaic through the OGC API
 * and prints the result links. Everything stays on 127.0.0.1 and stops by itself (or keep it up with --keep).
 */
import path from 'node:path';
import { loadConfig } from '../src/config';
import { startServer } from '../src/http/server';
import { syntheticDataDir } from '../test/fixtures/sentinel2';
import { startStacFixture } from '../test/fixtures/stac-api';

async function poll(jobUrl: string): Promise<any> {
  let lastMessage = '';
  for (;;) {
    const status: any = await (await fetch(jobUrl)).json();
    const line = `  ${status.status} ${status.progress ?? 0}% ${status.message ?? ''}`;
    if (line !== lastMessage) console.log(line);
    lastMessage = line;
    if (['successful', 'failed', 'dismissed'].includes(status.status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  console.log('1. synthetic Sentinel-2 scenes (2 UTM zones, Oct-Dec 2020; generated once into .tmp/synthetic)');
  const dataDir = await syntheticDataDir('small');
  const stac = await startStacFixture({ dataDir, flavour: 'planetary-computer', requireToken: true });
  console.log(`2. local STAC API (Planetary Computer-shaped, SAS-signed assets) on ${stac.url}`);
  process.env.ALLOWED_STAC_APIS = stac.url;
  process.env.STAC_TOKEN_ENDPOINT = stac.tokenEndpoint;
  const root = path.resolve('.tmp', 'demo');
  const server = await startServer({ ...loadConfig({ PORT: '0', DATA_DIR: path.join(root, 'data'), OUTPUT_DIR: path.join(root, 'outputs') }) });
  console.log(`3. OGC API - Processes server on ${server.url} (embedded backend)`);

  const aoi = (await import(path.join(dataDir, 'manifest.json'))).aoi.join(',');
  const execute = { inputs: { aoi, stac_api: stac.url, resolution: 20, bands: ['nir', 'red', 'green'] }, response: 'document' };
  console.log(`4. POST ${server.url}/processes/cloudless-mosaic/execution  (Prefer: respond-async)\n   ${JSON.stringify(execute)}`);
  const response = await fetch(`${server.url}/processes/cloudless-mosaic/execution`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'respond-async' },
    body: JSON.stringify(execute),
  });
  const jobUrl = response.headers.get('location')!;
  console.log(`   ${response.status} Location: ${jobUrl}`);
  const final = await poll(jobUrl);
  if (final.status !== 'successful') throw new Error(`the job ended ${final.status}: ${final.message}`);
  const results: any = await (await fetch(`${jobUrl}/results`)).json();
  const catalogUrl = results['stac-catalog'].href;
  const catalog: any = await (await fetch(catalogUrl)).json();
  console.log(`5. results: ${jobUrl}/results\n   stac-catalog: ${catalogUrl}`);
  for (const link of catalog.links.filter((l: any) => l.rel === 'item')) {
    const itemUrl = new URL(link.href, catalogUrl).toString();
    const item: any = await (await fetch(itemUrl)).json();
    console.log(`   ${item.id}: ${item.properties['mosaic:sources']?.length ?? '?'} scenes`);
    for (const [key, asset] of Object.entries<any>(item.assets)) console.log(`     ${key.padEnd(7)} ${new URL(asset.href, itemUrl)}`);
  }
  console.log(`   job page in a browser: ${jobUrl}?f=html`);
  if (keep) {
    console.log('--keep: the server and the STAC API stay up; Ctrl-C to stop.');
    return;
  }
  await server.close();
  await stac.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
