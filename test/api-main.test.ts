/** `npm start` (src/main.ts): configuration from the environment, serving, graceful shutdown on SIGTERM/SIGINT. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { call, postJson } from './helpers/api-client';

const PROJECT_ROOT = path.resolve(__dirname, '..');

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startMain(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, REDIS_URL: '', PUBLIC_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 30 s: ${output}`)), 30_000);
    const check = () => {
      const match = /listening on (http:\/\/[0-9.:]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  return { child, url, output: () => output, exited };
}

describe('npm start (src/main.ts)', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'ogc-main-test-'));
  });

  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it.each(['SIGTERM', 'SIGINT'] as const)('serves the API from the environment and shuts down on %s', async (signal) => {
    const started = await startMain({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir });
    try {
      expect(started.output()).toContain('embedded job backend');
      expect((await call(`${started.url}/conformance`)).status).toBe(200);
      const reply = await postJson(`${started.url}/processes/echo/execution`, { inputs: { echoInput: 'from main' } });
      expect(reply.text).toBe('from main');
      const longJob = await postJson(`${started.url}/processes/echo/execution`, { inputs: { echoInput: 'long', pause: 60 } }, { Prefer: 'respond-async' });
      expect(longJob.status).toBe(201);
    } finally {
      started.child.kill(signal);
    }
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain(`${signal}: shutting down`);
  });

  it('refuses an invalid configuration with a clear message', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: PROJECT_ROOT, env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain('configuration error: PORT');
  });
});
