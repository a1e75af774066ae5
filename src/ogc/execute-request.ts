/**
 * Parses and validates an execute request body against a process description: every input checked with Ajv
 * against its JSON Schema (min/maxOccurs, qualified values, by-reference values fetched, bbox objects), defaults
 * applied, then the plug-in's own `check`. Every problem found is reported at once as one 400.
 */
import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { StoredExecuteRequest, Subscriber } from '../jobs/types';
import { ApiError, ExceptionType, parameterProblems, type ParameterProblem } from './exceptions';
import type { InputDescription, ProcessDescription, ProcessPlugin } from './process';

export interface ReferenceLimits {
  maxBytes: number;
  timeoutMs: number;
}

export const DEFAULT_REFERENCE_LIMITS: ReferenceLimits = { maxBytes: 16 * 1024 * 1024, timeoutMs: 10_000 };

/** Formats used by OGC process descriptions that Ajv does not know; they constrain nothing here. */
const DESCRIPTIVE_FORMATS = ['ogc-bbox', 'geojson-geometry', 'geojson-feature', 'geojson-feature-collection', 'binary', 'url', 'epsg-code', 'wkt'];

type Problems = ParameterProblem[];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: true });
  addFormats(ajv);
  for (const format of DESCRIPTIVE_FORMATS) if (!ajv.formats[format]) ajv.addFormat(format, true);
  return ajv;
}

export class ExecuteRequestParser {
  private readonly ajv = createAjv();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly limits: ReferenceLimits = DEFAULT_REFERENCE_LIMITS) {}

  /** Compiles every input schema of these processes now, so a broken description fails at start-up. */
  prepare(descriptions: ProcessDescription[]): void {
    for (const description of descriptions) {
      for (const [id, input] of Object.entries(description.inputs)) this.validator(description.id, id, input);
    }
  }

  async parse(plugin: ProcessPlugin, body: unknown, signal?: AbortSignal): Promise<StoredExecuteRequest> {
    if (!isPlainObject(body)) {
      throw new ApiError(400, ExceptionType.invalidParameter, 'Invalid execute request', 'The request body must be a JSON object.');
    }
    const problems: Problems = [];
    const description = plugin.description;
    const response = parseResponse(body.response, problems);
    const outputs = parseOutputs(description, body.outputs, problems);
    const subscriber = parseSubscriber(body.subscriber, problems);
    const inputs = await this.parseInputs(description, body.inputs, problems, signal);
    if (problems.length === 0 && plugin.check) {
      for (const problem of await plugin.check(structuredClone(inputs))) {
        problems.push({ name: problem.input, reason: problem.detail, missing: problem.missing });
      }
    }
    if (problems.length > 0) throw parameterProblems(problems);
    return { inputs, response, ...(outputs && { outputs }), ...(subscriber && { subscriber }) };
  }

  private async parseInputs(description: ProcessDescription, given: unknown, problems: Problems, signal?: AbortSignal): Promise<Record<string, unknown>> {
    if (given !== undefined && !isPlainObject(given)) {
      problems.push({ name: 'inputs', reason: 'must be an object keyed by input id' });
      return {};
    }
    const values = given ?? {};
    for (const id of Object.keys(values)) {
      if (!Object.hasOwn(description.inputs, id)) problems.push({ name: id, reason: `is not an input of process ${description.id}` });
    }
    const inputs: Record<string, unknown> = {};
    await Promise.all(
      Object.entries(description.inputs).map(async ([id, input]) => {
        const value = await this.parseInput(description.id, id, input, values[id], problems, signal);
        if (value !== undefined) inputs[id] = value;
      }),
    );
    // Keep the description's input order, whatever order the fetches ended in.
    return Object.fromEntries(Object.keys(description.inputs).filter((id) => id in inputs).map((id) => [id, inputs[id]]));
  }

  private async parseInput(processId: string, id: string, input: InputDescription, given: unknown, problems: Problems, signal?: AbortSignal): Promise<unknown> {
    const minOccurs = input.minOccurs ?? 1;
    const maxOccurs = input.maxOccurs === 'unbounded' ? Infinity : input.maxOccurs ?? 1;
    if (given === undefined || given === null) {
      if (input.schema.default !== undefined) return structuredClone(input.schema.default);
      if (minOccurs > 0) problems.push({ name: id, reason: 'is required', missing: true });
      return undefined;
    }
    const occurrences = maxOccurs > 1 && isOccurrenceList(given, input) ? given : [given];
    if (occurrences.length < minOccurs || occurrences.length > maxOccurs) {
      const bound = maxOccurs === Infinity ? `at least ${minOccurs}` : `between ${minOccurs} and ${maxOccurs}`;
      problems.push({ name: id, reason: `takes ${bound} values, got ${occurrences.length}` });
      return undefined;
    }
    const validate = this.validator(processId, id, input);
    const resolved = await Promise.all(occurrences.map((occurrence) => this.resolveOccurrence(occurrence, validate, signal)));
    const failures = resolved.filter((result): result is { problem: string } => 'problem' in result);
    if (failures.length > 0) {
      problems.push({ name: id, reason: failures.map((failure) => failure.problem).join('; ') });
      return undefined;
    }
    const values = resolved.map((result) => (result as { value: unknown }).value);
    return maxOccurs > 1 ? values : values[0];
  }

  /** A value as given, the `value` of a qualified value, or the content behind an `href`, then validated. */
  private async resolveOccurrence(occurrence: unknown, validate: ValidateFunction, signal?: AbortSignal): Promise<{ value: unknown } | { problem: string }> {
    const check = (value: unknown): { value: unknown } | { problem: string } => {
      const copy = structuredClone(value);
      return validate(copy) ? { value: copy } : { problem: describeErrors(validate) };
    };
    const asGiven = check(occurrence);
    if ('value' in asGiven || !isPlainObject(occurrence)) return asGiven;
    if ('value' in occurrence) return check(occurrence.value);
    if (typeof occurrence.href === 'string') {
      try {
        const content = await fetchReference(occurrence.href, this.limits, signal);
        const parsed = 'json' in content ? check(content.json) : undefined;
        return parsed && 'value' in parsed ? parsed : check(content.text);
      } catch (error) {
        return { problem: `the reference ${occurrence.href} could not be read: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
    return asGiven;
  }

  private validator(processId: string, id: string, input: InputDescription): ValidateFunction {
    const key = `${processId}\u0000${id}`;
    let validate = this.validators.get(key);
    if (!validate) {
      // Every input schema is read as JSON Schema 2020-12 (a superset of what plug-ins use); a declared
      // `$schema` would make Ajv look for another meta-schema.
      const { $schema: _dialect, ...schema } = input.schema;
      validate = this.ajv.compile(schema);
      this.validators.set(key, validate);
    }
    return validate;
  }
}

/** With maxOccurs > 1 an array lists occurrences, unless the schema itself is an array type given one array. */
function isOccurrenceList(given: unknown, input: InputDescription): given is unknown[] {
  if (!Array.isArray(given)) return false;
  if (input.schema.type !== 'array') return true;
  return given.every((item) => Array.isArray(item) || isPlainObject(item));
}

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((error) => `${error.instancePath || 'value'} ${error.message ?? 'is invalid'}`.trim())
    .join(', ');
}

function parseResponse(value: unknown, problems: Problems): 'raw' | 'document' {
  if (value === undefined) return 'raw';
  if (value === 'raw' || value === 'document') return value;
  problems.push({ name: 'response', reason: 'must be "raw" or "document"' });
  return 'raw';
}

function parseOutputs(description: ProcessDescription, value: unknown, problems: Problems): StoredExecuteRequest['outputs'] {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    problems.push({ name: 'outputs', reason: 'must be an object keyed by output id' });
    return undefined;
  }
  const outputs: NonNullable<StoredExecuteRequest['outputs']> = {};
  for (const [id, requested] of Object.entries(value)) {
    if (!Object.hasOwn(description.outputs, id)) {
      problems.push({ name: `outputs.${id}`, reason: `is not an output of process ${description.id}` });
      continue;
    }
    const choice = requested ?? {};
    if (!isPlainObject(choice)) {
      problems.push({ name: `outputs.${id}`, reason: 'must be an object' });
      continue;
    }
    const mode = choice.transmissionMode;
    if (mode !== undefined && (typeof mode !== 'string' || !(description.outputTransmission as string[]).includes(mode))) {
      problems.push({ name: `outputs.${id}.transmissionMode`, reason: `must be one of ${description.outputTransmission.join(', ')}` });
      continue;
    }
    const format = choice.format;
    if (format !== undefined && (!isPlainObject(format) || (format.mediaType !== undefined && typeof format.mediaType !== 'string'))) {
      problems.push({ name: `outputs.${id}.format`, reason: 'must be an object with a string mediaType' });
      continue;
    }
    outputs[id] = {
      ...(mode !== undefined && { transmissionMode: mode as 'value' | 'reference' }),
      ...(isPlainObject(format) && typeof format.mediaType === 'string' && { format: { mediaType: format.mediaType } }),
    };
  }
  return outputs;
}

function parseSubscriber(value: unknown, problems: Problems): Subscriber | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    problems.push({ name: 'subscriber', reason: 'must be an object' });
    return undefined;
  }
  const subscriber: Subscriber = {};
  for (const key of ['successUri', 'inProgressUri', 'failedUri'] as const) {
    const uri = value[key];
    if (uri === undefined) continue;
    if (typeof uri !== 'string' || !isHttpUrl(uri)) problems.push({ name: `subscriber.${key}`, reason: 'must be an absolute http(s) URI' });
    else subscriber[key] = uri;
  }
  return subscriber;
}

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** Fetches a by-reference input within a size and time budget: its text, and its JSON value when it parses. */
export async function fetchReference(href: string, limits: ReferenceLimits, signal?: AbortSignal): Promise<{ text: string; json?: unknown }> {
  if (!isHttpUrl(href)) throw new Error('only absolute http(s) references are supported');
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const response = await fetch(href, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, redirect: 'follow' });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limits.maxBytes) {
    await response.body?.cancel();
    throw new Error(`larger than ${limits.maxBytes} bytes`);
  }
  const text = await readBounded(response, limits.maxBytes);
  try {
    return { text, json: JSON.parse(text) };
  } catch {
    return { text };
  }
}

async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
