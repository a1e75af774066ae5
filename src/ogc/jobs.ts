/** statusInfo documents and the parsing of the `/jobs` filters. */
import type { JobFilter, JobRecord, JobStatus } from '../jobs/types';
import { exceptionTypeUri, invalidParameter } from './exceptions';
import { JSON_TYPE, Rel, selfLinks } from './links';
import type { QueryValue } from './model';
import type { Link } from './process';
import { integerValue, listValue, parsePaging, singleValue } from './query';

export const JOB_STATUSES: readonly JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];
const JOB_TYPES = ['process'];

/** A statusInfo valid for both 1.0 (`jobID`, `type`) and the 2.0 draft (`id`, `processingEntityType`). */
export interface StatusInfo {
  jobID: string;
  id: string;
  type: 'process';
  processingEntityType: 'ogc-api-processes';
  processID: string;
  status: JobStatus;
  message?: string;
  created?: string;
  started?: string;
  finished?: string;
  updated?: string;
  progress: number;
  exception?: Record<string, unknown>;
  links: Link[];
}

export function jobUrl(baseUrl: string, id: string): string {
  return `${baseUrl}/jobs/${encodeURIComponent(id)}`;
}

export function statusInfo(job: JobRecord, baseUrl: string): StatusInfo {
  const href = jobUrl(baseUrl, job.id);
  const links: Link[] = [...selfLinks(href, `Job ${job.id}`), { href: `${baseUrl}/jobs?f=json`, rel: 'up', type: JSON_TYPE, title: 'Jobs' }];
  if (job.status === 'successful') links.push({ href: `${href}/results?f=json`, rel: Rel.results, type: JSON_TYPE, title: 'Results' });
  const optional: Partial<StatusInfo> = {};
  for (const key of ['message', 'created', 'started', 'finished', 'updated'] as const) {
    if (typeof job[key] === 'string' && job[key] !== '') optional[key] = job[key];
  }
  if (job.status === 'failed' && job.exception) optional.exception = jobExceptionBody(job);
  return {
    jobID: job.id,
    id: job.id,
    type: 'process',
    processingEntityType: 'ogc-api-processes',
    processID: job.processId,
    status: job.status,
    ...optional,
    progress: Math.min(100, Math.max(0, Math.round(job.progress ?? 0))),
    links,
  };
}

/** The OGC exception of a failed job, its type as a URI. */
export function jobExceptionBody(job: JobRecord): { type: string; title: string; status: number; detail?: string; instance?: string } {
  const exception = job.exception ?? { type: 'NoApplicableCode', detail: job.message };
  return {
    type: exceptionTypeUri(exception.type),
    title: exception.title ?? 'Job failed',
    status: exception.status && exception.status >= 400 && exception.status < 600 ? exception.status : 500,
    ...(exception.detail !== undefined && { detail: exception.detail }),
    instance: `/jobs/${encodeURIComponent(job.id)}`,
  };
}

/** The JobFilter of a `/jobs` query; every invalid value is a 400 naming its parameter. */
export function parseJobFilter(query: Record<string, QueryValue>): JobFilter {
  const filter: JobFilter = parsePaging(query);
  const types = listValue(query, 'type');
  if (types) {
    const unknown = types.find((type) => !JOB_TYPES.includes(type));
    if (unknown !== undefined) throw invalidParameter('type', `unknown job type ${JSON.stringify(unknown)} (known: ${JOB_TYPES.join(', ')})`);
    filter.types = types;
  }
  const statuses = listValue(query, 'status');
  if (statuses) {
    const unknown = statuses.find((status) => !(JOB_STATUSES as string[]).includes(status));
    if (unknown !== undefined) throw invalidParameter('status', `unknown status ${JSON.stringify(unknown)} (known: ${JOB_STATUSES.join(', ')})`);
    filter.statuses = statuses as JobStatus[];
  }
  const processIds = listValue(query, 'processID') ?? listValue(query, 'processId');
  if (processIds) filter.processIds = processIds;
  Object.assign(filter, parseDatetime(singleValue(query, 'datetime')));
  filter.minDuration = integerValue(query, 'minDuration', 0, Number.MAX_SAFE_INTEGER);
  filter.maxDuration = integerValue(query, 'maxDuration', 0, Number.MAX_SAFE_INTEGER);
  if (filter.minDuration !== undefined && filter.maxDuration !== undefined && filter.minDuration > filter.maxDuration) {
    throw invalidParameter('minDuration', 'must not be greater than maxDuration');
  }
  if (filter.minDuration === undefined) delete filter.minDuration;
  if (filter.maxDuration === undefined) delete filter.maxDuration;
  return filter;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2}))?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** An instant, or an interval `a/b` whose ends may be open (`..` or empty); a date alone covers its whole day (UTC). */
export function parseDatetime(text: string | undefined): Pick<JobFilter, 'createdFrom' | 'createdTo'> {
  if (text === undefined) return {};
  const parts = text.trim().split('/');
  if (parts.length > 2) throw invalidParameter('datetime', 'must be an instant or an interval start/end');
  if (parts.length === 1) {
    const instant = parseInstant(parts[0]);
    if (!instant) throw invalidParameter('datetime', `${JSON.stringify(text)} is not an RFC 3339 date-time`);
    return { createdFrom: instant.start, createdTo: instant.end };
  }
  const [start, end] = parts.map((part) => (part === '..' || part === '' ? undefined : part));
  if (start === undefined && end === undefined) throw invalidParameter('datetime', 'an interval needs at least one bound');
  const from = start === undefined ? undefined : parseInstant(start);
  const to = end === undefined ? undefined : parseInstant(end);
  if ((start !== undefined && !from) || (end !== undefined && !to)) {
    throw invalidParameter('datetime', `${JSON.stringify(text)} is not an RFC 3339 interval`);
  }
  if (from && to && from.start > to.end) throw invalidParameter('datetime', 'the interval ends before it starts');
  return { ...(from && { createdFrom: from.start }), ...(to && { createdTo: to.end }) };
}

function parseInstant(text: string): { start: string; end: string } | undefined {
  if (!DATE_TIME.test(text)) return undefined;
  const time = Date.parse(DATE_ONLY.test(text) ? `${text}T00:00:00Z` : text.replace(' ', 'T'));
  if (Number.isNaN(time)) return undefined;
  const start = new Date(time).toISOString();
  return { start, end: DATE_ONLY.test(text) ? new Date(time + DAY_MS - 1).toISOString() : start };
}
