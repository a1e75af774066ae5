/** Starts a real API server on 127.0.0.1 (ephemeral port) with temporary data folders, for the API tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { serve } from '../../src/http/server';
import { createBackend } from '../../src/jobs';
import type { ReferenceLimits } from '../../src/ogc/execute-request';
import type { JobBackend } from '../../src/jobs/types';
import { ProcessRegistry } from '../../src/ogc/registry';
import { deleteKeys } from '../bullmq-helpers';

export const API_FIXTURE_PROCESSES = path.join(__dirname, '..', 'fixtures', 'api-processes');
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379/5';

export type BackendKind = 'embedded' | 'bullmq';

export interface TestServerOptions {
  backend: BackendKind;
  /** Folder of process plug-ins; defaults to the API fixture processes (echo, multi, async-only). */
  processesDir?: string;
  /** Start of the BullMQ key prefix (the process id and time are appended); one per test file. */
  queuePrefix?: string;
  publicUrl?: string;
  referenceLimits?: ReferenceLimits;
  jsonLimit?: string;
  /** Receives the server's error log lines (default: console.error). */
  log?: (message: string) => void;
}

export interface TestServer {
  baseUrl: string;
  backend: JobBackend;
  outputDir: string;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const root = await mkdtemp(path.join(tmpdir(), 'ogc-api-test-'));
  const dataDir = path.join(root, 'data');
  const outputDir = path.join(root, 'outputs');
  const registry = ProcessRegistry.load(options.processesDir ?? API_FIXTURE_PROCESSES);
  const bullmq = options.backend === 'bullmq';
  // Unique per run too, so a run never sees the queues and jobs a previous one left.
  const queuePrefix = bullmq ? `${options.queuePrefix ?? 'ogc-api-test'}-${process.pid}-${Date.now()}` : undefined;
  const backend = await createBackend({
    registry,
    outputDir,
    dataDir,
    redisUrl: bullmq ? TEST_REDIS_URL : undefined,
    queuePrefix,
    workers: bullmq ? 1 : 2,
  });
  const { publicUrl, referenceLimits, jsonLimit, log } = options;
  const running = await serve({ registry, backend, outputDir, host: '127.0.0.1', port: 0, publicUrl, referenceLimits, jsonLimit, log }).catch(async (error) => {
    await backend.close();
    throw error;
  });
  return {
    baseUrl: running.url,
    backend,
    outputDir,
    dataDir,
    async close() {
      await running.close();
      await rm(root, { recursive: true, force: true });
      if (queuePrefix) await deleteServerKeys(queuePrefix);
    },
  };
}

/** Removes the Redis keys of a finished test server from the shared test database. */
async function deleteServerKeys(queuePrefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await deleteKeys(redis, queuePrefix);
  } finally {
    redis.disconnect();
  }
}
