/**
 * Serves the synthetic Sentinel-2 data through the local STAC API fixture, as its own process (so a benchmark's
 * server and the "remote" STAC API do not share an event loop). Prints the URL on the first line of stdout, and
 * its request counters and the CPU seconds it has used as one JSON line for each line "counters" read on stdin.
 *
 *   npx tsx scripts/stac-fixture.ts [--size tiny|small|bench] [--flavour planetary-computer|earth-search]
 */
import { parseArgs } from 'node:util';
import { syntheticDataDir, type Flavour, type SizeName } from '../test/fixtures/sentinel2';
import { startStacFixture } from '../test/fixtures/stac-api';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { size: { type: 'string', default: 'small' }, flavour: { type: 'string', default: 'planetary-computer' } },
  });
  const dataDir = await syntheticDataDir(values.size as SizeName);
  const stac = await startStacFixture({ dataDir, flavour: values.flavour as Flavour, pageSize: 100 });
  console.log(stac.url);
  const stop = () => stac.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent's end is ours: stop when stdin closes.
  process.stdin.on('end', stop);
  process.stdin.setEncoding('utf8').on('data', (text: string) => {
    if (!text.includes('counters')) return;
    const { user, system } = process.cpuUsage();
    console.log(JSON.stringify({ ...stac.counters, cpuSeconds: (user + system) / 1e6 }));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
