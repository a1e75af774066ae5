import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JobFilter, JobPage, JobRecord, JobStatus, JobStore } from './types';

/**
 * Key layout under `<prefix>:`
 *   job:<id>              hash, one field per top-level record property, each JSON-encoded, plus hidden
 *                         `~startedMs` / `~finishedMs` (epoch ms) so the list script can filter on duration
 *   idx:all               sorted set of job ids scored by created time (epoch ms)
 *   idx:status:<status>   same, per status
 *   idx:process:<id>      same, per process id
 *   idx:type:<type>       same, per job type
 *   status (channel)      `<id> <status>` published on every status change
 */

const HIDDEN_PREFIX = '~';
const STARTED_MS = '~startedMs';
const FINISHED_MS = '~finishedMs';
/** Marks a patch field to delete (no JSON encoding is empty). */
const DELETE_MARKER = '';
/** Properties that name the job's index entries; a patch cannot change them. */
const IMMUTABLE: ReadonlySet<string> = new Set(['id', 'created', 'processId', 'type']);
/** Index entries the list script examines per call, so Redis never blocks long on one listing. */
const DEFAULT_SCAN_BUDGET = 5000;
/** Cost of merging one entry into a temporary union, relative to examining one entry in the list script. */
const MERGE_COST_PER_ENTRY = 0.2;

/**
 * Applies a patch atomically. A final record (successful, failed, dismissed) only accepts a patch that keeps its
 * status or dismisses it; anything else (a late progress write, a late failure after dismissal) is ignored.
 * Progress never decreases. Returns the record's fields after the call, or nil if the job does not exist.
 */
const UPDATE_SCRIPT = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return nil end
local id, indexPrefix, channel, updated = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local final = { ['"successful"'] = true, ['"failed"'] = true, ['"dismissed"'] = true }
local current = redis.call('HGET', key, 'status')
local wanted = nil
for i = 5, #ARGV, 2 do
  if ARGV[i] == 'status' then wanted = ARGV[i + 1] end
end
if final[current] and (wanted == nil or (wanted ~= current and wanted ~= '"dismissed"')) then
  return redis.call('HGETALL', key)
end
for i = 5, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if value == '' then
    redis.call('HDEL', key, field)
  elseif field == 'progress' then
    local before = tonumber(redis.call('HGET', key, 'progress') or '0') or 0
    if tonumber(value) > before then redis.call('HSET', key, field, value) end
  else
    redis.call('HSET', key, field, value)
  end
end
redis.call('HSET', key, 'updated', updated)
if wanted ~= nil and wanted ~= current then
  local score = redis.call('ZSCORE', indexPrefix .. 'all', id)
  if current then redis.call('ZREM', indexPrefix .. 'status:' .. cjson.decode(current), id) end
  local status = cjson.decode(wanted)
  redis.call('ZADD', indexPrefix .. 'status:' .. status, score, id)
  redis.call('PUBLISH', channel, id .. ' ' .. status)
end
return redis.call('HGETALL', key)
`;

/**
 * Walks KEYS[1] (a sorted set of job ids) from the newest within created bounds, keeping the ids that are in at
 * least one set of every group (KEYS[2..], group sizes in ARGV[5]) and within the duration bounds; skips `skip`
 * matches, stops at `want` matches or after `budget` examined entries. The cursor (score, member) of the last
 * examined entry lets the next call resume where this one stopped even if newer jobs arrived meanwhile.
 * Returns { skipLeft, finished (1 = nothing more to examine), cursorScore, cursorMember, ids, records } where
 * records holds the fields of the first `withRecords` (ARGV[13]) ids.
 */
const LIST_SCRIPT = `
local maxScore, minScore, cursorScore, cursorMember = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local skip, want, budget = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local minDuration, maxDuration, now, recordPrefix = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), ARGV[12]
local withRecords = tonumber(ARGV[13])
local groups = {}
local nextKey = 2
for size in string.gmatch(ARGV[5], '%d+') do
  local group = {}
  for k = 1, tonumber(size) do
    group[k] = KEYS[nextKey]
    nextKey = nextKey + 1
  end
  groups[#groups + 1] = group
end

-- The first withRecords ids come with their record fields, read in the same atomic step as the filtering.
local function reply(skipLeft, finished, score, member, ids)
  local records = {}
  for i = 1, math.min(#ids, withRecords) do records[i] = redis.call('HGETALL', recordPrefix .. ids[i]) end
  return { skipLeft, finished, score, member, ids, records }
end

if #groups == 0 and not minDuration and not maxDuration and cursorScore == '' then
  return reply(0, 1, '', '', redis.call('ZREVRANGEBYSCORE', KEYS[1], maxScore, minScore, 'LIMIT', skip, want))
end

local function matches(id)
  for g = 1, #groups do
    local inGroup = false
    for k = 1, #groups[g] do
      if redis.call('ZSCORE', groups[g][k], id) then
        inGroup = true
        break
      end
    end
    if not inGroup then return false end
  end
  if minDuration or maxDuration then
    local times = redis.call('HMGET', recordPrefix .. id, '${STARTED_MS}', '${FINISHED_MS}')
    local started = tonumber(times[1])
    if not started then return false end
    local seconds = ((tonumber(times[2]) or now) - started) / 1000
    if minDuration and seconds < minDuration then return false end
    if maxDuration and seconds > maxDuration then return false end
  end
  return true
end

local upper = maxScore
local resuming = cursorScore ~= ''
if resuming then upper = cursorScore end
local offset, examined = 0, 0
local lastScore, lastMember = cursorScore, cursorMember
local found = {}
while examined < budget do
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], upper, minScore, 'WITHSCORES', 'LIMIT', offset, 500)
  if #page == 0 then return reply(skip, 1, '', '', found) end
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    offset = offset + 1
    local seen = resuming and score == cursorScore and id >= cursorMember
    if not seen then
      examined = examined + 1
      lastScore, lastMember = score, id
      if matches(id) then
        if skip > 0 then
          skip = skip - 1
        else
          found[#found + 1] = id
          if #found >= want then return reply(0, 1, '', '', found) end
        end
      end
    end
  end
end
return reply(skip, 0, lastScore, lastMember, found)
`;

/** skipLeft, finished (0/1), cursor score, cursor member, matching ids, fields of the first ids' records. */
type ListReply = [number, number, string, string, string[], string[][]];

type RedisWithScripts = Redis & {
  ogcJobUpdate(key: string, ...args: string[]): Promise<string[] | null>;
  ogcJobList(keyCount: number, ...keysAndArgs: string[]): Promise<ListReply>;
};

function epochMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : time;
}

/** Hash fields of a record: each property JSON-encoded, plus the hidden duration fields. */
function fieldsOf(job: JobRecord): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(job)) {
    if (value !== undefined) fields[name] = JSON.stringify(value);
  }
  const started = epochMs(job.started);
  const finished = epochMs(job.finished);
  if (started !== undefined) fields[STARTED_MS] = String(started);
  if (finished !== undefined) fields[FINISHED_MS] = String(finished);
  return fields;
}

function recordOf(flatFields: string[] | null | undefined): JobRecord | undefined {
  if (!flatFields || flatFields.length === 0) return undefined;
  const record: Record<string, unknown> = {};
  for (let i = 0; i < flatFields.length; i += 2) {
    const name = flatFields[i];
    if (!name.startsWith(HIDDEN_PREFIX)) record[name] = JSON.parse(flatFields[i + 1]);
  }
  return record as unknown as JobRecord;
}

function recordOfHash(hash: Record<string, string>): JobRecord | undefined {
  return recordOf(Object.entries(hash).flat());
}

/** Flat `field, value` pairs of a patch for the update script; undefined values delete the field. */
function patchArguments(patch: Partial<JobRecord>): string[] {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(patch)) {
    if (IMMUTABLE.has(name) || name === 'updated') continue;
    pairs.push(name, value === undefined ? DELETE_MARKER : JSON.stringify(value));
    if (name === 'started' || name === 'finished') {
      const time = epochMs(value as string | undefined);
      pairs.push(name === 'started' ? STARTED_MS : FINISHED_MS, time === undefined ? DELETE_MARKER : String(time));
    }
  }
  return pairs;
}

export interface RedisJobStoreOptions {
  /** Key prefix, e.g. `ogc` → keys `ogc:job:<id>`, `ogc:idx:all`, channel `ogc:status`. */
  prefix: string;
  /** Index entries examined per script call while filtering (Redis is blocked for the call). Default 5000. */
  scanBudget?: number;
}

/** Job records in Redis, listed from sorted-set indexes (newest first, ties by id descending). */
export class RedisJobStore implements JobStore {
  readonly prefix: string;
  /** Pub/sub channel carrying `<id> <status>` on every status change. */
  readonly statusChannel: string;
  private readonly redis: RedisWithScripts;
  private readonly scanBudget: number;

  constructor(redis: Redis, options: RedisJobStoreOptions) {
    this.prefix = options.prefix;
    this.statusChannel = `${this.prefix}:status`;
    this.redis = redis as RedisWithScripts;
    this.scanBudget = Math.max(1, options.scanBudget ?? DEFAULT_SCAN_BUDGET);
    if (typeof this.redis.ogcJobUpdate !== 'function') {
      redis.defineCommand('ogcJobUpdate', { numberOfKeys: 1, lua: UPDATE_SCRIPT });
      redis.defineCommand('ogcJobList', { lua: LIST_SCRIPT });
    }
  }

  private recordKey(id: string): string {
    return `${this.prefix}:job:${id}`;
  }

  private indexKey(kind: 'all' | 'status' | 'process' | 'type', value?: string): string {
    return value === undefined ? `${this.prefix}:idx:${kind}` : `${this.prefix}:idx:${kind}:${value}`;
  }

  async create(job: JobRecord): Promise<void> {
    const score = epochMs(job.created);
    if (score === undefined) throw new Error(`job ${job.id} has no valid created time`);
    const key = this.recordKey(job.id);
    await this.redis
      .multi()
      .del(key)
      .hset(key, fieldsOf(job))
      .zadd(this.indexKey('all'), score, job.id)
      .zadd(this.indexKey('status', job.status), score, job.id)
      .zadd(this.indexKey('process', job.processId), score, job.id)
      .zadd(this.indexKey('type', job.type), score, job.id)
      .exec();
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return recordOfHash(await this.redis.hgetall(this.recordKey(id)));
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    const updated = JSON.stringify(patch.updated ?? new Date().toISOString());
    const fields = await this.redis.ogcJobUpdate(
      this.recordKey(id),
      id,
      `${this.prefix}:idx:`,
      this.statusChannel,
      updated,
      ...patchArguments(patch),
    );
    return recordOf(fields);
  }

  async list(filter: JobFilter): Promise<JobPage> {
    const limit = Math.max(0, filter.limit);
    const { ids, records } = await this.matching(filter, Math.max(0, filter.offset), limit + 1, limit);
    const jobs = records.map((fields) => recordOf(fields)).filter((job): job is JobRecord => job !== undefined);
    return { jobs, more: ids.length > limit };
  }

  /** Ids with this status, oldest first: for recovering queued and interrupted jobs. */
  async idsWithStatus(status: JobStatus): Promise<string[]> {
    return this.redis.zrange(this.indexKey('status', status), 0, -1);
  }

  /**
   * Up to `want` ids of matching jobs after skipping `skip`, newest first, and the records of the first
   * `withRecords` of them.
   */
  private async matching(filter: JobFilter, skip: number, want: number, withRecords: number): Promise<{ ids: string[]; records: string[][] }> {
    const hasDuration = filter.minDuration !== undefined || filter.maxDuration !== undefined;
    const { source, others, temporary } = await this.scanSource(this.filterGroups(filter), skip + want);
    const ids: string[] = [];
    const records: string[][] = [];
    if (source === undefined) return { ids, records };
    const from = epochMs(filter.createdFrom);
    const to = epochMs(filter.createdTo);
    let cursorScore = '';
    let cursorMember = '';
    let skipLeft = skip;
    try {
      for (;;) {
        const [left, finished, nextScore, nextMember, found, fields] = await this.redis.ogcJobList(
          1 + others.flat().length,
          source,
          ...others.flat(),
          to === undefined ? '+inf' : String(to),
          from === undefined ? '-inf' : String(from),
          cursorScore,
          cursorMember,
          others.map((group) => group.length).join(','),
          String(skipLeft),
          String(want - ids.length),
          String(this.scanBudget),
          hasDuration && filter.minDuration !== undefined ? String(filter.minDuration) : '',
          hasDuration && filter.maxDuration !== undefined ? String(filter.maxDuration) : '',
          String(Date.now()),
          `${this.prefix}:job:`,
          String(Math.max(0, withRecords - records.length)),
        );
        skipLeft = Number(left);
        ids.push(...found);
        records.push(...fields);
        if (Number(finished) === 1 || ids.length >= want) return { ids, records };
        cursorScore = nextScore;
        cursorMember = nextMember;
      }
    } finally {
      if (temporary) await this.redis.del(temporary);
    }
  }

  /** Per filter dimension, the index keys of which a job must be in at least one. */
  private filterGroups(filter: JobFilter): string[][] {
    const groups: string[][] = [];
    if (filter.statuses?.length) groups.push(unique(filter.statuses).map((s) => this.indexKey('status', s)));
    if (filter.processIds?.length) groups.push(unique(filter.processIds).map((p) => this.indexKey('process', p)));
    if (filter.types?.length) groups.push(unique(filter.types).map((t) => this.indexKey('type', t)));
    return groups;
  }

  /**
   * The sorted set to walk and the membership checks left for the other dimensions. Walking a set costs about
   * `needed / (chance an entry matches)` entries; a dimension with several values must first be merged into a
   * temporary set (cheaper per entry, but every entry). Picks the cheapest of walking all jobs or one dimension,
   * estimating match chances as if dimensions were independent. No source when a dimension matches nothing.
   */
  private async scanSource(groups: string[][], needed: number): Promise<{ source?: string; others: string[][]; temporary?: string }> {
    const all = this.indexKey('all');
    if (groups.length === 0) return { source: all, others: [] };
    const pipeline = this.redis.pipeline().zcard(all);
    for (const key of groups.flat()) pipeline.zcard(key);
    const [total, ...cards] = ((await pipeline.exec()) ?? []).map(([, count]) => Number(count));
    let offset = 0;
    const sizes = groups.map((group) => {
      const size = cards.slice(offset, offset + group.length).reduce((sum, count) => sum + count, 0);
      offset += group.length;
      return Math.min(size, total);
    });
    if (total === 0 || sizes.some((size) => size === 0)) return { others: [] };
    const density = sizes.reduce((product, size) => product * (size / total), 1);
    const walkCost = (size: number): number => Math.min(size, needed / ((density * total) / size));
    let best = { cost: walkCost(total), group: -1 };
    groups.forEach((group, index) => {
      const mergeCost = group.length > 1 ? sizes[index] * MERGE_COST_PER_ENTRY : 0;
      const cost = mergeCost + walkCost(sizes[index]);
      if (cost < best.cost) best = { cost, group: index };
    });
    if (best.group < 0) return { source: all, others: groups };
    const others = groups.filter((_, index) => index !== best.group);
    const chosen = groups[best.group];
    if (chosen.length === 1) return { source: chosen[0], others };
    const temporary = `${this.prefix}:tmp:${randomBytes(8).toString('hex')}`;
    await this.redis.multi().zunionstore(temporary, chosen.length, ...chosen, 'AGGREGATE', 'MAX').expire(temporary, 60).exec();
    return { source: temporary, others, temporary };
  }
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
