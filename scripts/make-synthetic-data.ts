/**
 * Writes the synthetic Sentinel-2 data set (COGs + STAC items in Planetary Computer and Earth Search shapes).
 * Idempotent: files already there are kept.
 *
 *   npx tsx scripts/make-synthetic-data.ts --out data/synthetic [--size tiny|small|bench] [--seed N]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SEED, PRESETS, generateSyntheticData, type SizeName } from '../test/fixtures/sentinel2';

const USAGE = 'Usage: make-synthetic-data --out DIR [--size tiny|small|bench] [--seed N] [--quiet]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, size: { type: 'string', default: 'small' }, seed: { type: 'string' }, quiet: { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  if (!(values.size! in PRESETS)) throw new Error(`--size must be one of ${Object.keys(PRESETS).join(', ')}\n${USAGE}`);
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer\n${USAGE}`);
  const started = Date.now();
  const result = await generateSyntheticData({
    out: values.out,
    size: values.size as SizeName,
    seed,
    log: values.quiet ? undefined : (message) => console.log(message),
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `${result.manifest.scenes.length} scenes (${values.size}, seed ${seed}) in ${values.out}: ${result.written} file(s) written, ` +
      `${result.skipped} kept, ${seconds} s. AOI ${result.manifest.aoi.map((v) => v.toFixed(5)).join(',')}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
