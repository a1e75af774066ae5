import type { ProcessRegistry } from '../ogc/registry';
import type { CallbackOptions } from './callbacks';
import { EmbeddedBackend } from './embedded-backend';
import type { JobBackend } from './types';

export interface BackendConfig {
  registry: ProcessRegistry;
  outputDir: string;
  dataDir: string;
  /** With a Redis URL jobs go to BullMQ workers; without, they run in this process. */
  redisUrl?: string;
  queuePrefix?: string;
  /** BullMQ: worker concurrency in this process (0 = API only). Embedded: jobs running at once. */
  workers?: number;
  /** Subscriber callback settings, e.g. the public URL that makes file hrefs absolute. */
  callbacks?: CallbackOptions;
  /** Embedded: worker threads that run the work units of fanned-out jobs (default: number of CPUs). */
  unitThreads?: number;
}

export async function createBackend(config: BackendConfig): Promise<JobBackend> {
  if (!config.redisUrl) {
    return EmbeddedBackend.create({
      registry: config.registry,
      outputDir: config.outputDir,
      dataDir: config.dataDir,
      concurrency: config.workers || undefined,
      callbacks: config.callbacks,
      unitThreads: config.unitThreads,
    });
  }
  // Loaded only when Redis is configured; require keeps the CommonJS output free of ESM import() (jest, tsx).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { BullmqBackend } = require('./bullmq-backend') as typeof import('./bullmq-backend');
  return BullmqBackend.create({
    registry: config.registry,
    outputDir: config.outputDir,
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    workers: config.workers,
    callbacks: config.callbacks,
  });
}

export { EmbeddedBackend, JobDismissedError, BackendClosingError } from './embedded-backend';
export type { EmbeddedBackendOptions } from './embedded-backend';
export { FileJobStore, JobIndex } from './file-store';
export { jobOutputStore, removeJobOutputs, jobOutputDir } from './output-store';
export { runJob, newJobId, newJobRecord, isFinal, exceptionOf, FINAL_STATUSES } from './runner';
export type { RunJobDeps, UnitMapper, UnitMapRequest } from './runner';
export { CallbackDispatcher, statusInfoOf, resultsDocumentOf } from './callbacks';
export type { CallbackOptions, StatusInfo } from './callbacks';
export { UnitPool, runUnit } from './unit-pool';
export type * from './types';
