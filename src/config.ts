/** Server configuration, read from the environment. */
import path from 'node:path';

export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  outputDir: string;
  /** Unset: embedded backend (jobs run in this process); set: BullMQ on this Redis. */
  redisUrl?: string;
  /** Worker concurrency (BullMQ: 0 = API only) or jobs at once (embedded). */
  workers?: number;
  queuePrefix?: string;
  /** Base URL that replaces the one derived from the request (behind a proxy that rewrites Host). */
  publicUrl?: string;
  /** Largest accepted execute request body. */
  jsonLimit: string;
}

export class ConfigError extends Error {}

function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}

function publicUrl(text: string | undefined): string | undefined {
  if (!text?.trim()) return undefined;
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute URL, got ${JSON.stringify(text)}`);
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw new ConfigError('PUBLIC_URL must be an http(s) URL');
  return url.toString().replace(/\/+$/, '');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const dataDir = path.resolve(env.DATA_DIR?.trim() || './data');
  return {
    port: integer(env, 'PORT', 0, 65535) ?? 8080,
    host: env.HOST?.trim() || '127.0.0.1',
    dataDir,
    outputDir: path.resolve(env.OUTPUT_DIR?.trim() || path.join(dataDir, 'outputs')),
    redisUrl: env.REDIS_URL?.trim() || undefined,
    workers: integer(env, 'WORKERS', 0, 1024),
    queuePrefix: env.QUEUE_PREFIX?.trim() || undefined,
    publicUrl: publicUrl(env.PUBLIC_URL),
    jsonLimit: env.JSON_LIMIT?.trim() || '10mb',
  };
}
