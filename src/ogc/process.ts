/**
 * The process plug-in contract. A process is a folder under `processes/<id>/` whose `index.ts`
 * default-exports a ProcessPlugin: its description (OGC process description, inputs and outputs as
 * JSON Schema) and one `run` function. Nothing here knows about HTTP or queues.
 */

export type JsonSchema = Record<string, unknown>;

export interface Link {
  href: string;
  rel?: string;
  type?: string;
  hreflang?: string;
  title?: string;
}

export interface InputDescription {
  title?: string;
  description?: string;
  keywords?: string[];
  minOccurs?: number;
  maxOccurs?: number | 'unbounded';
  schema: JsonSchema;
}

export interface OutputDescription {
  title?: string;
  description?: string;
  schema: JsonSchema;
}

export type JobControlOption = 'sync-execute' | 'async-execute' | 'dismiss';
export type TransmissionMode = 'value' | 'reference';

export interface ProcessDescription {
  id: string;
  version: string;
  title?: string;
  description?: string;
  keywords?: string[];
  jobControlOptions: JobControlOption[];
  outputTransmission: TransmissionMode[];
  inputs: Record<string, InputDescription>;
  outputs: Record<string, OutputDescription>;
}

/** A file output: `href` is job-relative (`/jobs/{id}/files/...`) until the API layer makes it absolute. */
export interface FileOutput {
  href: string;
  type?: string;
  rel?: string;
  title?: string;
}

/** Output values keyed by output id. A value is either a plain JSON value or a FileOutput. */
export type ProcessOutputs = Record<string, unknown>;

/** The job's own folder under OUTPUT_DIR. Shared by every worker of the job (a shared volume in docker-compose). */
export interface OutputStore {
  /** Absolute path of the job folder. */
  readonly dir: string;
  /** Absolute path of `relative` inside the job folder; throws if it would leave the folder. */
  path(relative: string): string;
  /** Job-relative URL of a file in the folder: `/jobs/{jobId}/files/{relative}`. */
  href(relative: string): string;
  /** Writes to a temporary name in the same folder, then renames, so readers never see partial files. */
  writeFile(relative: string, data: string | Uint8Array): Promise<void>;
}

export interface UnitContext {
  jobId: string;
  signal: AbortSignal;
  store: OutputStore;
}

export interface RunContext extends UnitContext {
  /** Progress 0-100 with an optional message; values lower than the last one are ignored. */
  progress(percent: number, message?: string): void;
  /**
   * Fan-out: runs `payloads.length` work units of this process's `units[unit]` on the backend's workers
   * (worker threads in the embedded mode, BullMQ child jobs on any worker process with Redis) and resolves
   * with their results in payload order. `onUnitDone` is called as each one finishes (for progress).
   * Rejects on the first failed unit, and when the job is dismissed (every pending and running unit is cancelled).
   * Payloads and results must be structured-cloneable JSON.
   */
  map<P, R>(unit: string, payloads: P[], onUnitDone?: (index: number, result: R) => void, options?: MapOptions): Promise<R[]>;
}

export interface MapOptions {
  /**
   * A locality group per payload: units of one group share inputs (the source tiles of one month, say). The
   * embedded pool keeps each thread on one group while it has units, so per-thread caches are not filled twice
   * with the same data; BullMQ hands units out in order.
   */
  groups?: string[];
}

/** A semantic input problem found by `check` (beyond JSON Schema): answered as HTTP 400 naming the input. */
export interface InputProblem {
  input: string;
  detail: string;
  /** missing → MissingParameterValue, otherwise InvalidParameterValue. */
  missing?: boolean;
}

export interface ProcessPlugin {
  description: ProcessDescription;
  /** Optional checks that JSON Schema cannot express, run on the API before any job is queued. Inputs have their defaults applied. */
  check?(inputs: Record<string, unknown>): InputProblem[] | Promise<InputProblem[]>;
  run(inputs: Record<string, unknown>, ctx: RunContext): Promise<ProcessOutputs>;
  /** Work units that `ctx.map` can fan out. They run where the worker runs: keep them free of closures over `run`. */
  units?: Record<string, (payload: any, ctx: UnitContext) => Promise<unknown>>;
}
