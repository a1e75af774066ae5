/**
 * Turns a successful job's outputs into the response the execute request asked for (OGC 18-062r2 §7.11.4 table):
 * `document` → 200 JSON keyed by output id; `raw` with one output by value → the bare value with its media type;
 * `raw` with every output by reference → 204 with one Link header each; `raw` with several outputs → multipart/related.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { jobOutputStore } from '../jobs/output-store';
import type { JobRecord } from '../jobs/types';
import { ApiError, ExceptionType } from './exceptions';
import { Rel } from './links';
import { mediaTypeOfPath } from './media-types';
import { jsonResponse, type ApiResponse } from './model';
import type { FileOutput, OutputDescription, ProcessDescription } from './process';

export interface ResultsContext {
  baseUrl: string;
  outputDir: string;
  /** The description of the job's process, for the media types of the outputs (absent if the process is gone). */
  description?: ProcessDescription;
}

interface SelectedOutput {
  id: string;
  value: unknown;
  mode: 'value' | 'reference';
  mediaType?: string;
}

interface OutputPart {
  id: string;
  contentType: string;
  data: Buffer;
}

const MATERIALIZED_FOLDER = 'results';

export function isFileOutput(value: unknown): value is FileOutput {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as FileOutput).href === 'string';
}

export async function resultsResponse(job: JobRecord, context: ResultsContext): Promise<ApiResponse> {
  const outputs = selectOutputs(job, context.description);
  if (job.request.response === 'document') return jsonResponse(await resultsDocument(job, outputs, context), 200, 'results');
  if (outputs.length > 0 && outputs.every((output) => output.mode === 'reference')) {
    const links = await Promise.all(outputs.map(async (output) => linkHeader(output.id, await referenceOf(job, output, context))));
    return { status: 204, headers: { Link: links } };
  }
  if (outputs.length === 1) return bareValue(job, outputs[0], context);
  return multipart(job, outputs, context);
}

/** The document form: top level keyed by output id; objects as qualified values, files and references as links. */
export async function resultsDocument(job: JobRecord, outputs: SelectedOutput[], context: ResultsContext): Promise<Record<string, unknown>> {
  const document: Record<string, unknown> = {};
  for (const output of outputs) {
    if (output.mode === 'reference' || isFileOutput(output.value)) document[output.id] = await referenceOf(job, output, context);
    else if (output.value !== null && typeof output.value === 'object' && !Array.isArray(output.value)) {
      document[output.id] = { value: output.value, mediaType: output.mediaType ?? 'application/json' };
    } else document[output.id] = output.value;
  }
  return document;
}

export function selectOutputs(job: JobRecord, description?: ProcessDescription): SelectedOutput[] {
  const results = job.results ?? {};
  const requested = job.request.outputs && Object.keys(job.request.outputs).length > 0 ? job.request.outputs : undefined;
  const ids = Object.keys(requested ?? results).filter((id) => id in results);
  return ids.map((id) => ({
    id,
    value: results[id],
    mode: requested?.[id]?.transmissionMode ?? 'value',
    mediaType: requested?.[id]?.format?.mediaType ?? declaredMediaType(description?.outputs[id]),
  }));
}

function declaredMediaType(output?: OutputDescription): string | undefined {
  const type = output?.schema.contentMediaType;
  return typeof type === 'string' ? type : undefined;
}

function absoluteHref(href: string, baseUrl: string): string {
  return href.startsWith('/') ? baseUrl + href : href;
}

/** A link to the output: a file output's own href, or a file the value is written to once. */
async function referenceOf(job: JobRecord, output: SelectedOutput, context: ResultsContext): Promise<FileOutput> {
  if (isFileOutput(output.value)) {
    const { href, ...rest } = output.value;
    return { ...rest, href: absoluteHref(href, context.baseUrl), type: output.value.type ?? mediaTypeOfPath(href) };
  }
  const encoded = encodeValue(output);
  const store = jobOutputStore(context.outputDir, job.id);
  const relative = `${MATERIALIZED_FOLDER}/${output.id}${encoded.contentType.startsWith('application/json') ? '.json' : '.txt'}`;
  const exists = await access(store.path(relative)).then(() => true, () => false);
  if (!exists) await store.writeFile(relative, encoded.data);
  return { href: absoluteHref(store.href(relative), context.baseUrl), type: encoded.contentType, title: output.id };
}

function linkHeader(id: string, link: FileOutput): string {
  const type = link.type ? `; type="${link.type.replace(/"/g, "'")}"` : '';
  return `<${link.href}>; rel="${Rel.results}"${type}; title="${id.replace(/"/g, "'")}"`;
}

/** A JSON value as bytes: strings as text (or their requested media type), everything else as JSON. */
function encodeValue(output: SelectedOutput): { contentType: string; data: Buffer } {
  if (typeof output.value === 'string' && !/json/i.test(output.mediaType ?? '')) {
    return { contentType: output.mediaType ?? 'text/plain; charset=utf-8', data: Buffer.from(output.value) };
  }
  return { contentType: output.mediaType ?? 'application/json', data: Buffer.from(JSON.stringify(output.value)) };
}

async function bareValue(job: JobRecord, output: SelectedOutput, context: ResultsContext): Promise<ApiResponse> {
  if (!isFileOutput(output.value)) {
    const encoded = encodeValue(output);
    return { status: 200, headers: { 'Content-Type': encoded.contentType }, payload: encoded.data };
  }
  const file = localFileOf(job, output.value, context);
  if (!file) {
    return { status: 303, headers: { Location: absoluteHref(output.value.href, context.baseUrl) } };
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw missingOutputFile(output.id);
  return {
    status: 200,
    headers: { 'Content-Type': output.value.type ?? mediaTypeOfPath(file), 'Content-Length': String(info.size) },
    stream: createReadStream(file),
  };
}

async function multipart(job: JobRecord, outputs: SelectedOutput[], context: ResultsContext): Promise<ApiResponse> {
  const parts: OutputPart[] = [];
  for (const output of outputs) {
    if (output.mode === 'reference') {
      const link = await referenceOf(job, output, context);
      parts.push({ id: output.id, contentType: `message/external-body; access-type=URL; URL="${link.href}"`, data: Buffer.alloc(0) });
    } else if (isFileOutput(output.value)) {
      const file = localFileOf(job, output.value, context);
      const data = file ? await readFile(file).catch(() => undefined) : undefined;
      if (!data) throw missingOutputFile(output.id);
      parts.push({ id: output.id, contentType: output.value.type ?? mediaTypeOfPath(file!), data });
    } else {
      const encoded = encodeValue(output);
      parts.push({ id: output.id, contentType: encoded.contentType, data: encoded.data });
    }
  }
  const boundary = `ogc-${randomBytes(12).toString('hex')}`;
  const chunks = parts.flatMap((part) => [
    Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType}\r\nContent-ID: <${part.id}>\r\n\r\n`),
    part.data,
    Buffer.from('\r\n'),
  ]);
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { status: 200, headers: { 'Content-Type': `multipart/related; boundary=${boundary}` }, payload: Buffer.concat(chunks) };
}

/** The path of a job file output (`/jobs/{id}/files/...`) in the job's folder; undefined for any other href. */
function localFileOf(job: JobRecord, output: FileOutput, context: ResultsContext): string | undefined {
  const prefix = `/jobs/${encodeURIComponent(job.id)}/files/`;
  const href = output.href.startsWith(context.baseUrl) ? output.href.slice(context.baseUrl.length) : output.href;
  if (!href.startsWith(prefix)) return undefined;
  const relative = href.slice(prefix.length).split('/').map(decodeURIComponent).join('/');
  return jobOutputStore(context.outputDir, job.id).path(relative);
}

function missingOutputFile(id: string): ApiError {
  return new ApiError(500, ExceptionType.serverError, 'Output missing', `The file of output ${id} is missing.`);
}
