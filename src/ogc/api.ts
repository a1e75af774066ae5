/**
 * The OGC API - Processes - Part 1: Core 1.0 endpoints, free of any web framework: each method takes an
 * ApiRequest and returns an ApiResponse (or throws an ApiError, answered as an OGC exception).
 */
import { newJobRecord } from '../jobs/runner';
import type { JobBackend, JobRecord } from '../jobs/types';
import { ApiError, ExceptionType, noSuchJob, type ExceptionBody } from './exceptions';
import { ExecuteRequestParser, type ReferenceLimits } from './execute-request';
import { jobFileResponse } from './job-files';
import { jobExceptionBody, jobUrl, parseJobFilter, statusInfo } from './jobs';
import { HTML_TYPE, JSON_TYPE, OPENAPI_TYPE, Rel, selfLinks, withQuery } from './links';
import { firstHeader, jsonResponse, requestUrl, type ApiRequest, type ApiResponse } from './model';
import { buildOpenApiDocument } from './openapi';
import { ProcessCatalog } from './processes';
import { pagingLinks, parsePaging } from './query';
import type { ProcessRegistry } from './registry';
import { resultsResponse } from './results';

export const CONFORMANCE_CLASSES = ['core', 'ogc-process-description', 'json', 'html', 'oas30', 'job-list', 'callback', 'dismiss'].map(
  (name) => `http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/${name}`,
);

/** The shape of every job id (job ids name folders under OUTPUT_DIR, see jobs/output-store.ts). */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface OgcApiOptions {
  registry: ProcessRegistry;
  backend: JobBackend;
  outputDir: string;
  title?: string;
  description?: string;
  version?: string;
  referenceLimits?: ReferenceLimits;
}

export class OgcApi {
  readonly catalog: ProcessCatalog;
  readonly title: string;
  readonly description: string;
  private readonly parser: ExecuteRequestParser;
  private readonly openApiCache = new Map<string, Buffer>();

  constructor(private readonly options: OgcApiOptions) {
    this.catalog = new ProcessCatalog(options.registry);
    this.parser = new ExecuteRequestParser(options.referenceLimits);
    this.parser.prepare(options.registry.list().map((plugin) => plugin.description));
    this.title = options.title ?? 'Cloudless mosaic processes';
    this.description = options.description ?? 'OGC API - Processes server turning Sentinel-2 imagery into monthly cloud-free mosaics.';
  }

  get backend(): JobBackend {
    return this.options.backend;
  }

  landingPage(request: ApiRequest): ApiResponse {
    const base = request.baseUrl;
    const response = jsonResponse(
      {
        title: this.title,
        description: this.description,
        links: [
          ...selfLinks(`${base}/`, 'This document'),
          { href: `${base}/api`, rel: 'service-desc', type: OPENAPI_TYPE, title: 'The OpenAPI definition of this API' },
          { href: `${base}/api.html`, rel: 'service-doc', type: HTML_TYPE, title: 'Documentation of this API' },
          { href: `${base}/conformance?f=json`, rel: 'conformance', type: JSON_TYPE, title: 'Conformance classes' },
          { href: `${base}/conformance?f=json`, rel: Rel.conformance, type: JSON_TYPE, title: 'Conformance classes' },
          { href: `${base}/processes?f=json`, rel: Rel.processes, type: JSON_TYPE, title: 'Processes' },
          { href: `${base}/jobs?f=json`, rel: Rel.jobList, type: JSON_TYPE, title: 'Jobs' },
        ],
      },
      200,
      'landing',
    );
    return { ...response, immutable: true };
  }

  conformance(request: ApiRequest): ApiResponse {
    const body = { conformsTo: CONFORMANCE_CLASSES, links: selfLinks(`${request.baseUrl}/conformance`, 'Conformance classes') };
    return { ...jsonResponse(body, 200, 'conformance'), immutable: true };
  }

  openApi(request: ApiRequest): ApiResponse {
    let payload = this.openApiCache.get(request.baseUrl);
    if (!payload) {
      const descriptions = this.options.registry.list().map((plugin) => plugin.description);
      payload = Buffer.from(JSON.stringify(buildOpenApiDocument(request.baseUrl, descriptions, this.title, this.options.version ?? '1.0.0')));
      if (this.openApiCache.size > 64) this.openApiCache.clear();
      this.openApiCache.set(request.baseUrl, payload);
    }
    return { status: 200, headers: { 'Content-Type': OPENAPI_TYPE }, payload, immutable: true };
  }

  /** The parsed OpenAPI document, for the HTML documentation page. */
  openApiDocument(request: ApiRequest): Record<string, unknown> {
    return JSON.parse(String(this.openApi(request).payload));
  }

  processes(request: ApiRequest): ApiResponse {
    const page = this.catalog.list(request.baseUrl, parsePaging(request.query));
    return { status: 200, headers: { 'Content-Type': JSON_TYPE }, json: page.json, payload: page.payload, view: 'processes', immutable: true };
  }

  process(request: ApiRequest): ApiResponse {
    const description = this.catalog.describe(request.baseUrl, request.params.processId);
    return { status: 200, headers: { 'Content-Type': JSON_TYPE }, json: description.json, payload: description.payload, view: 'process', immutable: true };
  }

  async execute(request: ApiRequest): Promise<ApiResponse> {
    const plugin = this.catalog.plugin(request.params.processId);
    const stored = await this.parser.parse(plugin, request.body, request.signal);
    const options = plugin.description.jobControlOptions;
    const asyncPreferred = prefersAsync(headerValues(request, 'prefer'));
    const runAsync = options.includes('async-execute') && (asyncPreferred || !options.includes('sync-execute'));
    const job = newJobRecord(plugin.description.id, stored);
    await this.backend.store.create(job);
    await this.backend.submit(job);
    if (runAsync) {
      const headers: Record<string, string> = { Location: jobUrl(request.baseUrl, job.id) };
      if (asyncPreferred) headers['Preference-Applied'] = 'respond-async';
      return jsonResponse(statusInfo(job, request.baseUrl), 201, 'job', headers);
    }
    const final = await this.backend.waitForFinal(job.id, request.signal);
    return this.finalJobResponse(final, request);
  }

  async jobs(request: ApiRequest): Promise<ApiResponse> {
    const filter = parseJobFilter(request.query);
    const page = await this.backend.store.list(filter);
    const href = withQuery(requestUrl(request), { f: undefined });
    return jsonResponse(
      {
        jobs: page.jobs.map((job) => statusInfo(job, request.baseUrl)),
        links: [...selfLinks(href, 'Jobs'), ...pagingLinks(withQuery(href, { f: 'json' }), filter, page.more)],
      },
      200,
      'jobs',
    );
  }

  async job(request: ApiRequest): Promise<ApiResponse> {
    return jsonResponse(statusInfo(await this.existingJob(request.params.jobId), request.baseUrl), 200, 'job');
  }

  async results(request: ApiRequest): Promise<ApiResponse> {
    const job = await this.existingJob(request.params.jobId);
    if (job.status === 'dismissed') throw noSuchJob(job.id);
    if (job.status === 'accepted' || job.status === 'running') {
      throw new ApiError(404, ExceptionType.resultNotReady, 'Result not ready', `Job ${job.id} is ${job.status}; its results are not ready yet.`);
    }
    return this.finalJobResponse(job, request);
  }

  async dismiss(request: ApiRequest): Promise<ApiResponse> {
    if (!JOB_ID.test(request.params.jobId)) throw noSuchJob(request.params.jobId);
    const dismissed = await this.backend.dismiss(request.params.jobId);
    if (!dismissed) throw noSuchJob(request.params.jobId);
    return jsonResponse(statusInfo(dismissed, request.baseUrl), 200, 'job');
  }

  async jobFile(request: ApiRequest): Promise<ApiResponse> {
    const job = await this.existingJob(request.params.jobId);
    if (job.status === 'dismissed') throw noSuchJob(job.id);
    return jobFileResponse({
      outputDir: this.options.outputDir,
      jobId: job.id,
      encodedPath: request.params.path,
      method: request.method,
      range: firstHeader(request.headers, 'range'),
    });
  }

  private async existingJob(id: string): Promise<JobRecord> {
    // An id no job can have is answered without asking the store (which may reject it as unsafe).
    if (!JOB_ID.test(id)) throw noSuchJob(id);
    const job = await this.backend.store.get(id);
    if (!job) throw noSuchJob(id);
    return job;
  }

  /** Results of a successful job; the exception of a failed one; a dismissed job no longer exists. */
  private async finalJobResponse(job: JobRecord, request: ApiRequest): Promise<ApiResponse> {
    if (job.status === 'successful') {
      return resultsResponse(job, {
        baseUrl: request.baseUrl,
        outputDir: this.options.outputDir,
        description: this.options.registry.get(job.processId)?.description,
      });
    }
    if (job.status === 'dismissed') throw noSuchJob(job.id);
    const body: ExceptionBody = jobExceptionBody(job);
    return jsonResponse(body, body.status, 'exception');
  }
}

function headerValues(request: ApiRequest, name: string): string[] {
  const value = request.headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** RFC 7240: preferences are comma-separated, each `token[=value][; param]`, tokens case-insensitive. */
export function prefersAsync(headerValues: string[]): boolean {
  return headerValues
    .flatMap((value) => value.split(','))
    .map((preference) => preference.split(/[;=]/)[0].trim().toLowerCase())
    .includes('respond-async');
}
