import { readFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { readWithGdal, runMosaic, startMosaicWorld } from './helpers/mosaic';
test('debug', async () => {
  const world = await startMosaicWorld('small', 'embedded', { pageSize: 5 });
  const r = await runMosaic(world, { resolution: 20, bands: ['nir', 'red', 'green'] });
  console.log(JSON.stringify(await (await fetch(`${r.jobUrl}/results`)).json()));
  const name = 'monthly-mosaic-2020-10';
  const item = JSON.parse(readFileSync(path.join(r.folder, name, `${name}.json`), 'utf8'));
  console.log(item.properties['proj:transform'], item.properties['proj:shape'], item.properties['mosaic:sources']);
  const ours = readWithGdal(path.join(r.folder, name, `${name}.tif`));
  const mid = Math.floor(ours.bands[0].length / 2) + 200;
  console.log('ours', [0,1,2].map(b => Array.from(ours.bands[b].slice(mid, mid + 8))));
  execFileSync('cp', ['-r', r.folder, '/tmp/dbg-out']);
  await world.close();
}, 300000);
