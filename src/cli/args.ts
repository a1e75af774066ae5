import { parseArgs } from 'node:util';

/** The reference CLI's flags (click options of eoap/dask-app-package cloudless-mosaic) plus ours. */
const OPTIONS = {
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  aoi: { type: 'string' },
  bands: { type: 'string', multiple: true },
  collection: { type: 'string' },
  resolution: { type: 'string' },
  'max-items': { type: 'string' },
  'max-cloud-cover': { type: 'string' },
  'stac-api': { type: 'string' },
  mask: { type: 'string' },
  harmonize: { type: 'string' },
  crs: { type: 'string' },
  output: { type: 'string', short: 'o' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const USAGE = `Usage: cloudless-mosaic [options]
  --start-date YYYY-MM-DD     first day (default 2020-10-01)
  --end-date YYYY-MM-DD       last day, inclusive (default 2020-12-31)
  --aoi minlon,minlat,maxlon,maxlat
  --bands NAME                repeat for each band, in output order (default nir red green)
  --collection ID             (default sentinel-2-l2a)
  --resolution METRES         (default 100)
  --max-items N               (default 1000)
  --max-cloud-cover PERCENT   scenes strictly below it (default 25)
  --stac-api URL              (default Planetary Computer)
  --mask 0,1,3,8,9,10         SCL classes masked per pixel; "" for none (the reference behaviour)
  --harmonize true|false      remove the +1000 DN offset of baseline 04.00+ (default true)
  --crs EPSG                  output CRS (default: UTM zone of the AOI centre)
  --output DIR                where to write catalog.json and the monthly folders (default .)
  --quiet                     no progress output`;

export class UsageError extends Error {}

export interface CliArguments {
  inputs: Record<string, unknown>;
  output: string;
  quiet: boolean;
  help: boolean;
}

function number(flag: string, value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new UsageError(`--${flag} must be a number, not "${value}"`);
  return parsed;
}

function boolean(flag: string, value: string): boolean {
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new UsageError(`--${flag} must be true or false, not "${value}"`);
}

/** `--aoi -122,47,...` → `--aoi=-122,47,...`: a value that starts with a minus sign and a digit is a value, not a flag. */
function joinNegativeValues(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].replace(/^--/, '');
    const takesValue = argv[i].startsWith('--') && !argv[i].includes('=') && OPTIONS[flag as keyof typeof OPTIONS]?.type === 'string';
    if (takesValue && /^-[\d.]/.test(argv[i + 1] ?? '')) joined.push(`${argv[i]}=${argv[++i]}`);
    else joined.push(argv[i]);
  }
  return joined;
}

/** Command-line flags → process inputs (ids as in the process description); absent flags take the process defaults. */
export function parseCliArguments(argv: string[]): CliArguments {
  let values;
  try {
    ({ values } = parseArgs({ args: joinNegativeValues(argv), options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const inputs: Record<string, unknown> = {};
  const copy = (flag: keyof typeof values, input: string, convert: (flag: string, value: string) => unknown = (_f, v) => v) => {
    const value = values[flag];
    if (value !== undefined && typeof value === 'string') inputs[input] = convert(flag, value);
  };
  copy('start-date', 'start-date');
  copy('end-date', 'end-date');
  copy('aoi', 'aoi');
  if (values.bands) inputs.bands = values.bands.flatMap((band) => band.split(',')).map((band) => band.trim()).filter(Boolean);
  copy('collection', 'collection');
  copy('resolution', 'resolution', number);
  copy('max-items', 'max_items', number);
  copy('max-cloud-cover', 'max_cloud_cover', number);
  copy('stac-api', 'stac_api');
  copy('mask', 'mask', (flag, value) => (value.trim() === '' ? [] : value.split(',').map((part) => number(flag, part))));
  copy('harmonize', 'harmonize', boolean);
  copy('crs', 'crs', number);
  return { inputs, output: values.output ?? '.', quiet: values.quiet ?? false, help: values.help ?? false };
}
