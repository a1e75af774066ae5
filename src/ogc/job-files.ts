/** Serves the files of a job's output folder: HEAD, single byte ranges, media types, no way out of the folder. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { jobOutputStore } from '../jobs/output-store';
import { ApiError, ExceptionType, notFound } from './exceptions';
import { mediaTypeOfPath } from './media-types';
import type { ApiResponse } from './model';

export interface JobFileRequest {
  outputDir: string;
  jobId: string;
  /** The path after `/files/`, still percent-encoded, as received. */
  encodedPath: string;
  method: string;
  range?: string;
}

type ByteRange = { start: number; end: number };

export async function jobFileResponse(request: JobFileRequest): Promise<ApiResponse> {
  const file = resolveJobFile(request);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw notFound(`/jobs/${request.jobId}/files/${request.encodedPath}`);
  const headers: Record<string, string> = {
    'Content-Type': mediaTypeOfPath(file),
    'Accept-Ranges': 'bytes',
    'Last-Modified': info.mtime.toUTCString(),
    'Cache-Control': 'no-cache',
  };
  const range = request.range ? parseRange(request.range, info.size) : undefined;
  if (range === 'unsatisfiable') {
    throw new ApiError(416, ExceptionType.rangeNotSatisfiable, 'Range not satisfiable', `The file has ${info.size} bytes.`, {}, {
      'Content-Range': `bytes */${info.size}`,
      'Accept-Ranges': 'bytes',
    });
  }
  const withBody = request.method !== 'HEAD';
  if (range) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
    headers['Content-Length'] = String(range.end - range.start + 1);
    return { status: 206, headers, stream: withBody ? createReadStream(file, range) : undefined };
  }
  headers['Content-Length'] = String(info.size);
  return { status: 200, headers, stream: withBody && info.size > 0 ? createReadStream(file) : undefined, payload: info.size === 0 ? '' : undefined };
}

/** Decodes each segment on its own, so `%2F` cannot smuggle a separator and `%2e%2e` is seen as `..`. */
function resolveJobFile(request: JobFileRequest): string {
  const missing = notFound(`/jobs/${request.jobId}/files/${request.encodedPath}`);
  let segments: string[];
  try {
    segments = request.encodedPath.split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    throw missing;
  }
  const unsafe = (segment: string): boolean => segment === '' || segment === '.' || segment === '..' || /[\\/\0]/.test(segment);
  if (segments.length === 0 || segments.some(unsafe)) throw missing;
  try {
    return jobOutputStore(request.outputDir, request.jobId).path(segments.join('/'));
  } catch {
    throw missing;
  }
}

/**
 * One `bytes=` range (RFC 9110 §14.1.2). Several ranges, or a header that does not parse, are ignored
 * (the whole file is served, as the RFC allows); a range starting beyond the end is unsatisfiable.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
