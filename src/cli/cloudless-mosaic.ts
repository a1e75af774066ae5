/**
 * `cloudless-mosaic`: the process from the command line, with the reference module's flags. Writes catalog.json
 * and the monthly folders into --output, shows progress, and exits non-zero on failure (the reference exits 0).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { jobOutputStore } from '../jobs/output-store';
import { UnitPool } from '../jobs/unit-pool';
import { ApiError } from '../ogc/exceptions';
import { ExecuteRequestParser } from '../ogc/execute-request';
import type { RunContext } from '../ogc/process';
import { ProcessRegistry } from '../ogc/registry';
import { parseCliArguments, USAGE, UsageError } from './args';

const PROCESS_ID = 'cloudless-mosaic';

function progressReporter(quiet: boolean): RunContext['progress'] {
  let last = -1;
  return (percent, message) => {
    const rounded = Math.floor(percent);
    if (quiet || rounded < last) return;
    last = rounded;
    const line = `[${String(rounded).padStart(3)}%] ${message ?? ''}`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
    else process.stderr.write(`${line}\n`);
  };
}

function describeProblem(error: unknown): string {
  if (error instanceof ApiError) {
    const problems = error.extra.invalidParams as { name: string; reason: string }[] | undefined;
    return problems?.length ? problems.map((p) => `--${p.name.replace(/_/g, '-')}: ${p.reason}`).join('\n') : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export async function main(argv: string[]): Promise<number> {
  const args = parseCliArguments(argv);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const registry = ProcessRegistry.load();
  const plugin = registry.get(PROCESS_ID)!;
  // The allow-list protects a shared server from being pointed anywhere; on the command line the user chooses.
  if (typeof args.inputs.stac_api === 'string') process.env.ALLOWED_STAC_APIS = args.inputs.stac_api;
  const request = await new ExecuteRequestParser().parse(plugin, { inputs: args.inputs });

  const folder = path.resolve(args.output);
  mkdirSync(folder, { recursive: true });
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  const pool = new UnitPool({ registry, outputRoot: path.dirname(folder) });
  const jobId = path.basename(folder);
  try {
    const store = jobOutputStore(path.dirname(folder), jobId);
    const context: RunContext = {
      jobId,
      signal: controller.signal,
      store,
      progress: progressReporter(args.quiet),
      map: pool.mapper({ jobId, processId: PROCESS_ID, signal: controller.signal }),
    };
    await plugin.run(request.inputs, context);
    if (!args.quiet && process.stderr.isTTY) process.stderr.write('\n');
    console.log(path.join(folder, 'catalog.json'));
    return 0;
  } finally {
    await pool.close();
  }
}

/** Runs the command and exits: 0 done, 1 the run failed, 2 bad flags or inputs. */
export function cli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (process.stderr.isTTY) process.stderr.write('\n');
      console.error(`cloudless-mosaic: ${describeProblem(error)}`);
      if (error instanceof UsageError) console.error(USAGE);
      process.exit(error instanceof UsageError || error instanceof ApiError ? 2 : 1);
    },
  );
}

if (require.main === module) cli(process.argv.slice(2));
