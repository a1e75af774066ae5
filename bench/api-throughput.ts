/**
 * Throughput of the API (embedded backend) on 127.0.0.1: the server runs in a child process (`src/main.ts`), this
 * process drives keep-alive HTTP requests at a fixed concurrency for a fixed time per endpoint and prints req/s and
 * latency percentiles. For scale on a shared machine it first measures a bare Express app answering a static
 * buffer: the ceiling of Node + Express here and now. Usage: npx tsx bench/api-throughput.ts [seconds=8] [connections=32]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const seconds = Number(process.argv[2] ?? 8);
const connections = Number(process.argv[3] ?? 32);

const BASELINE_SERVER = `
const express = require('express');
const app = express();
app.disable('x-powered-by');
app.disable('etag');
const payload = Buffer.from(JSON.stringify({ processes: [{ id: 'echo', title: 'x'.repeat(1200) }] }));
app.get('/processes', (req, res) => { res.setHeader('Content-Type', 'application/json'); res.setHeader('Content-Length', payload.length); res.end(payload); });
const server = app.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
process.on('SIGTERM', () => process.exit(0));`;

async function startServer(dataDir: string, baseline = false): Promise<{ url: string; stop: () => Promise<void> }> {
  const args = baseline ? ['-e', BASELINE_SERVER] : ['--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, args, {
    cwd: path.resolve(__dirname, '..'),
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[0-9.:]+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const stop = () => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  return { url, stop };
}

function get(agent: Agent, url: URL): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'GET' }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(target: string, label = ''): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(target);
  const latencies: number[] = [];
  const loop = async (until: number, record: boolean) => {
    while (Date.now() < until) {
      const latency = await get(agent, url);
      if (record) latencies.push(latency);
    }
  };
  await Promise.all(Array.from({ length: connections }, () => loop(Date.now() + 1000, false)));
  const started = Date.now();
  await Promise.all(Array.from({ length: connections }, () => loop(started + seconds * 1000, true)));
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(2);
  console.log(
    `${label}${url.pathname + url.search}: ${(latencies.length / elapsed).toFixed(0)} req/s over ${elapsed.toFixed(1)} s, ${connections} connections; ` +
      `latency ms p50 ${percentile(0.5)} p99 ${percentile(0.99)}`,
  );
  agent.destroy();
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'bench-api-'));
  const baseline = await startServer(dataDir, true);
  try {
    await measure(`${baseline.url}/processes`, 'baseline (bare Express, static buffer) ');
  } finally {
    await baseline.stop();
  }
  const server = await startServer(dataDir);
  try {
    for (let i = 0; i < 20; i++) {
      await fetch(`${server.url}/processes/echo/execution`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ inputs: { echoInput: `bench ${i}` } }) }).then((r) => r.arrayBuffer());
    }
    for (const target of ['/processes', '/processes/echo', '/', '/jobs?limit=10']) await measure(server.url + target);
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
