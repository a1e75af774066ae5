/** OGC API exceptions (RFC 7807-like JSON bodies served as application/json, as OGC 18-062r2 requires). */
import { jsonResponse, type ApiResponse } from './model';

export const EXCEPTION_PREFIX = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/';

export const ExceptionType = {
  noSuchProcess: `${EXCEPTION_PREFIX}no-such-process`,
  noSuchJob: `${EXCEPTION_PREFIX}no-such-job`,
  resultNotReady: `${EXCEPTION_PREFIX}result-not-ready`,
  invalidParameter: `${EXCEPTION_PREFIX}InvalidParameterValue`,
  missingParameter: `${EXCEPTION_PREFIX}MissingParameterValue`,
  noApplicableCode: `${EXCEPTION_PREFIX}NoApplicableCode`,
  notFound: `${EXCEPTION_PREFIX}NotFound`,
  notAllowed: `${EXCEPTION_PREFIX}NotAllowed`,
  notAcceptable: `${EXCEPTION_PREFIX}NotAcceptable`,
  payloadTooLarge: `${EXCEPTION_PREFIX}PayloadTooLarge`,
  rangeNotSatisfiable: `${EXCEPTION_PREFIX}RangeNotSatisfiable`,
  serverError: `${EXCEPTION_PREFIX}ServerError`,
} as const;

export interface ParameterProblem {
  name: string;
  reason: string;
  missing?: boolean;
}

export interface ExceptionBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extra: string]: unknown;
}

/** An error that the API answers with an OGC exception body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }

  toResponse(instance?: string): ApiResponse {
    return exceptionResponse({ type: this.type, title: this.title, status: this.status, detail: this.detail, instance, ...this.extra }, this.headers);
  }
}

export function exceptionResponse(body: ExceptionBody, headers: Record<string, string> = {}): ApiResponse {
  const clean = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
  return jsonResponse(clean, body.status, 'exception', headers);
}

/** Short OGC/OWS exception codes stored with jobs (e.g. `NoApplicableCode`) become type URIs. */
export function exceptionTypeUri(type: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(type) ? type : EXCEPTION_PREFIX + type;
}

export const noSuchProcess = (id: string): ApiError =>
  new ApiError(404, ExceptionType.noSuchProcess, 'No such process', `There is no process with id ${JSON.stringify(id)}.`);

export const noSuchJob = (id: string): ApiError =>
  new ApiError(404, ExceptionType.noSuchJob, 'No such job', `There is no job with id ${JSON.stringify(id)}.`);

export const invalidParameter = (name: string, reason: string): ApiError => parameterProblems([{ name, reason }]);

/** One 400 naming every bad parameter; typed MissingParameterValue only when every problem is a missing one. */
export function parameterProblems(problems: ParameterProblem[]): ApiError {
  const allMissing = problems.every((problem) => problem.missing);
  const detail = problems.map((problem) => `${problem.name}: ${problem.reason}`).join('; ');
  return new ApiError(
    400,
    allMissing ? ExceptionType.missingParameter : ExceptionType.invalidParameter,
    allMissing ? 'Missing parameter value' : 'Invalid parameter value',
    detail,
    { invalidParams: problems.map(({ name, reason }) => ({ name, reason })) },
  );
}

export const notFound = (path: string): ApiError =>
  new ApiError(404, ExceptionType.notFound, 'Not found', `Nothing is found at ${path}.`);
