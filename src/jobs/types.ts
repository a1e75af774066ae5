/** Job records and the queue backend contract shared by the embedded and the BullMQ backends. */
import type { ProcessOutputs } from '../ogc/process';

export type JobStatus = 'accepted' | 'running' | 'successful' | 'failed' | 'dismissed';

export interface Subscriber {
  successUri?: string;
  inProgressUri?: string;
  failedUri?: string;
}

/** The execute request as stored with the job (validated inputs with defaults applied). */
export interface StoredExecuteRequest {
  inputs: Record<string, unknown>;
  outputs?: Record<string, { transmissionMode?: 'value' | 'reference'; format?: { mediaType?: string } }>;
  response: 'raw' | 'document';
  subscriber?: Subscriber;
}

export interface JobException {
  type: string;
  title?: string;
  status?: number;
  detail?: string;
}

export interface JobRecord {
  id: string;
  processId: string;
  type: 'process';
  status: JobStatus;
  message?: string;
  /** ISO 8601 instants; absent while unknown. */
  created: string;
  started?: string;
  finished?: string;
  updated: string;
  /** 0-100, never decreases. */
  progress: number;
  request: StoredExecuteRequest;
  results?: ProcessOutputs;
  exception?: JobException;
}

export interface JobFilter {
  processIds?: string[];
  statuses?: JobStatus[];
  types?: string[];
  /** Bounds on `created`, ISO instants, either may be open. */
  createdFrom?: string;
  createdTo?: string;
  /** Seconds (finished - started, or now - started while running). */
  minDuration?: number;
  maxDuration?: number;
  offset: number;
  limit: number;
}

export interface JobPage {
  jobs: JobRecord[];
  /** Whether more records match after this page. */
  more: boolean;
}

/** Where job records live. Listing must be served from indexes, not by loading every record. */
export interface JobStore {
  create(job: JobRecord): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Applies a patch; `progress` never goes backwards; returns the updated record (undefined if gone). */
  update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined>;
  list(filter: JobFilter): Promise<JobPage>;
}

/** Dispatches executions. The embedded backend runs them in this process; the BullMQ backend on workers. */
export interface JobBackend {
  readonly store: JobStore;
  /** Queues a job whose record is already stored. */
  submit(job: JobRecord): Promise<void>;
  /** Resolves when the job reaches a final status (successful, failed, dismissed). */
  waitForFinal(id: string, signal?: AbortSignal): Promise<JobRecord>;
  /** Stops the job wherever it runs (queued never starts, running is aborted), deletes its outputs, marks it dismissed. */
  dismiss(id: string): Promise<JobRecord | undefined>;
  close(): Promise<void>;
}
