import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OutputStore } from '../ogc/process';

/** A job id may only name one folder directly under the output root. */
export function assertSafeJobId(jobId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(jobId)) throw new Error(`invalid job id: ${JSON.stringify(jobId)}`);
}

/** Relative path of `relative` inside `dir`, split in segments; throws if it would leave the folder. */
function segmentsInside(dir: string, relative: string): string[] {
  if (typeof relative !== 'string' || relative.length === 0) throw new Error('empty output path');
  if (relative.includes('\0')) throw new Error('output path contains NUL');
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative) || relative.startsWith('/')) {
    throw new Error(`output path must be relative: ${relative}`);
  }
  const segments = relative.split(/[\\/]+/).filter((segment) => segment !== '' && segment !== '.');
  if (segments.length === 0 || segments.includes('..')) throw new Error(`output path leaves the job folder: ${relative}`);
  const resolved = path.resolve(dir, ...segments);
  if (!resolved.startsWith(dir + path.sep)) throw new Error(`output path leaves the job folder: ${relative}`);
  return segments;
}

export function jobOutputDir(outputRoot: string, jobId: string): string {
  assertSafeJobId(jobId);
  return path.join(path.resolve(outputRoot), jobId);
}

export function jobOutputStore(outputRoot: string, jobId: string): OutputStore {
  const dir = jobOutputDir(outputRoot, jobId);
  const resolve = (relative: string): string => path.join(dir, ...segmentsInside(dir, relative));
  return {
    dir,
    path: resolve,
    href(relative) {
      const encoded = segmentsInside(dir, relative).map(encodeURIComponent).join('/');
      return `/jobs/${encodeURIComponent(jobId)}/files/${encoded}`;
    },
    async writeFile(relative, data) {
      const target = resolve(relative);
      await mkdir(path.dirname(target), { recursive: true });
      const temporary = `${target}.tmp-${randomBytes(6).toString('hex')}`;
      try {
        await writeFile(temporary, data);
        await rename(temporary, target);
      } catch (error) {
        await unlink(temporary).catch(() => undefined);
        throw error;
      }
    },
  };
}

/** Deletes the job folder and everything in it; a missing folder is not an error. */
export async function removeJobOutputs(outputRoot: string, jobId: string): Promise<void> {
  await rm(jobOutputDir(outputRoot, jobId), { recursive: true, force: true, maxRetries: 3 });
}
