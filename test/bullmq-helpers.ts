import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';

/** The Redis database the BullMQ tests use; every test also works under its own key prefix. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/6';

/** A registry dir holding the real echo process and the fan-out test process. */
export const BULLMQ_FIXTURE_PROCESSES = path.join(__dirname, 'fixtures', 'bullmq-processes');

export function uniquePrefix(name: string): string {
  return `test-${name}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix:`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
