import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobFilter, JobPage, JobRecord, JobStatus, JobStore } from './types';

/** What the index keeps of a job: enough to filter and order without reading the record. */
interface IndexEntry {
  id: string;
  processId: string;
  type: string;
  status: JobStatus;
  created: number;
  started?: number;
  finished?: number;
}

function instant(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : time;
}

function entryOf(job: JobRecord): IndexEntry {
  return {
    id: job.id,
    processId: job.processId,
    type: job.type,
    status: job.status,
    created: instant(job.created) ?? 0,
    started: instant(job.started),
    finished: instant(job.finished),
  };
}

/** Ascending by created time, ties by id, so every entry has one exact place. */
function compareEntries(a: IndexEntry, b: IndexEntry): number {
  return a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function addToGroup<K>(groups: Map<K, Set<string>>, key: K, id: string): void {
  let group = groups.get(key);
  if (!group) groups.set(key, (group = new Set()));
  group.add(id);
}

function removeFromGroup<K>(groups: Map<K, Set<string>>, key: K, id: string): void {
  const group = groups.get(key);
  group?.delete(id);
  if (group?.size === 0) groups.delete(key);
}

/**
 * In-memory job index: entries ordered by created time plus id sets per status and per process. A page is found
 * by walking the created order from the newest (cheap per entry, no record read), or, when a status/process
 * filter is much more selective than the created range, by sorting just the matching ids.
 */
export class JobIndex {
  private readonly entries = new Map<string, IndexEntry>();
  private ordered: IndexEntry[] = [];
  private readonly byStatus = new Map<JobStatus, Set<string>>();
  private readonly byProcess = new Map<string, Set<string>>();

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Adds or refreshes the entry of a job. */
  put(job: JobRecord): void {
    const entry = entryOf(job);
    if (this.entries.has(job.id)) this.remove(job.id);
    this.entries.set(entry.id, entry);
    this.ordered.splice(this.insertionPoint(entry), 0, entry);
    addToGroup(this.byStatus, entry.status, entry.id);
    addToGroup(this.byProcess, entry.processId, entry.id);
  }

  /** Adds many jobs at once (startup): one sort instead of one insertion each. */
  putAll(jobs: Iterable<JobRecord>): void {
    for (const job of jobs) {
      if (this.entries.has(job.id)) this.remove(job.id);
      const entry = entryOf(job);
      this.entries.set(entry.id, entry);
      this.ordered.push(entry);
      addToGroup(this.byStatus, entry.status, entry.id);
      addToGroup(this.byProcess, entry.processId, entry.id);
    }
    this.ordered.sort(compareEntries);
  }

  remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    const at = this.insertionPoint(entry);
    if (this.ordered[at] === entry) this.ordered.splice(at, 1);
    removeFromGroup(this.byStatus, entry.status, id);
    removeFromGroup(this.byProcess, entry.processId, id);
  }

  /** Ids with this status, oldest first. */
  idsWithStatus(status: JobStatus): string[] {
    const ids = this.byStatus.get(status) ?? new Set<string>();
    return [...ids]
      .map((id) => this.entries.get(id)!)
      .sort(compareEntries)
      .map((entry) => entry.id);
  }

  /** Ids of one page, newest first, and whether more match after it. */
  query(filter: JobFilter, now = Date.now()): { ids: string[]; more: boolean } {
    const offset = Math.max(0, Math.floor(filter.offset));
    const limit = Math.max(0, Math.floor(filter.limit));
    const [low, high] = this.createdRange(filter);
    const matches = this.matcher(filter, now);
    if (!matches) {
      const end = Math.max(low, high - offset);
      const start = Math.max(low, end - limit);
      return { ids: this.ordered.slice(start, end).reverse().map((entry) => entry.id), more: start > low };
    }
    const candidates = this.selectiveCandidates(filter);
    if (candidates && this.sortingIsCheaper(candidates.size, offset + limit, high - low)) {
      const sorted = [...candidates]
        .map((id) => this.entries.get(id)!)
        .filter(matches)
        .sort((a, b) => compareEntries(b, a));
      return { ids: sorted.slice(offset, offset + limit).map((entry) => entry.id), more: sorted.length > offset + limit };
    }
    const ids: string[] = [];
    let skipped = 0;
    for (let at = high - 1; at >= low; at--) {
      const entry = this.ordered[at];
      if (!matches(entry)) continue;
      if (skipped < offset) skipped++;
      else if (ids.length < limit) ids.push(entry.id);
      else return { ids, more: true };
    }
    return { ids, more: false };
  }

  /**
   * Walking the created order visits about `wanted × range / candidates` entries to fill a page; sorting the
   * candidates costs about `candidates × log2(candidates)`. Few candidates (status=failed) favour sorting.
   */
  private sortingIsCheaper(candidates: number, wanted: number, range: number): boolean {
    const walk = (wanted * range) / Math.max(1, candidates);
    const sort = candidates * Math.log2(candidates + 2);
    return sort < walk;
  }

  /** Index of the first entry not before `entry` in the created order (binary search). */
  private insertionPoint(entry: IndexEntry): number {
    let low = 0;
    let high = this.ordered.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareEntries(this.ordered[middle], entry) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** First index with created ≥ time (or > time when `after`). */
  private boundary(time: number, after: boolean): number {
    let low = 0;
    let high = this.ordered.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const created = this.ordered[middle].created;
      if (created < time || (after && created === time)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** [low, high) slice of the created order within the filter's created bounds (both inclusive). */
  private createdRange(filter: JobFilter): [number, number] {
    const from = instant(filter.createdFrom);
    const to = instant(filter.createdTo);
    const low = from === undefined ? 0 : this.boundary(from, false);
    const high = to === undefined ? this.ordered.length : this.boundary(to, true);
    return [low, Math.max(low, high)];
  }

  /** The smaller of the status and process id unions, when either filter is given. */
  private selectiveCandidates(filter: JobFilter): Set<string> | undefined {
    const unions = [
      filter.statuses && this.union(this.byStatus, filter.statuses),
      filter.processIds && this.union(this.byProcess, filter.processIds),
    ].filter((set): set is Set<string> => set !== undefined);
    return unions.sort((a, b) => a.size - b.size)[0];
  }

  private union<K>(groups: Map<K, Set<string>>, keys: K[]): Set<string> {
    const sets = keys.map((key) => groups.get(key)).filter((set): set is Set<string> => set !== undefined);
    if (sets.length === 1) return sets[0];
    const all = new Set<string>();
    for (const set of sets) for (const id of set) all.add(id);
    return all;
  }

  /** A predicate for the non-created filters, or undefined when there are none. */
  private matcher(filter: JobFilter, now: number): ((entry: IndexEntry) => boolean) | undefined {
    const tests: Array<(entry: IndexEntry) => boolean> = [];
    const from = instant(filter.createdFrom);
    const to = instant(filter.createdTo);
    if (from !== undefined) tests.push((entry) => entry.created >= from);
    if (to !== undefined) tests.push((entry) => entry.created <= to);
    if (filter.statuses) {
      const statuses = new Set(filter.statuses);
      tests.push((entry) => statuses.has(entry.status));
    }
    if (filter.processIds) {
      const processIds = new Set(filter.processIds);
      tests.push((entry) => processIds.has(entry.processId));
    }
    if (filter.types) {
      const types = new Set(filter.types);
      tests.push((entry) => types.has(entry.type));
    }
    if (filter.minDuration !== undefined || filter.maxDuration !== undefined) {
      const min = filter.minDuration ?? 0;
      const max = filter.maxDuration ?? Infinity;
      tests.push((entry) => {
        if (entry.started === undefined) return false;
        const seconds = ((entry.finished ?? now) - entry.started) / 1000;
        return seconds >= min && seconds <= max;
      });
    }
    // Created bounds alone are handled by slicing the created order.
    const onlyCreatedBounds = tests.length === (from !== undefined ? 1 : 0) + (to !== undefined ? 1 : 0);
    if (onlyCreatedBounds) return undefined;
    return (entry) => tests.every((test) => test(entry));
  }
}

const RECORD_SUFFIX = '.json';

function isSafeId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) && !id.includes('.tmp-');
}

/**
 * Job records as one JSON file each under `<dataDir>/jobs/` (written to a temporary name, then renamed), with a
 * JobIndex rebuilt on open so listing reads only the records of the page it returns.
 */
export class FileJobStore implements JobStore {
  private readonly index = new JobIndex();
  /** Per-job chains serialising writes, so concurrent patches of one job never lose each other. */
  private readonly writeChains = new Map<string, Promise<unknown>>();

  private constructor(readonly dir: string) {}

  static async open(dataDir: string): Promise<FileJobStore> {
    const store = new FileJobStore(path.join(path.resolve(dataDir), 'jobs'));
    await mkdir(store.dir, { recursive: true });
    store.index.putAll(store.readAll());
    return store;
  }

  get size(): number {
    return this.index.size;
  }

  async create(job: JobRecord): Promise<void> {
    if (!isSafeId(job.id)) throw new Error(`invalid job id: ${JSON.stringify(job.id)}`);
    await this.serialise(job.id, async () => {
      if (this.index.has(job.id) || (await this.read(job.id))) {
        throw new Error(`job ${job.id} already exists`);
      }
      await this.write(job);
      this.index.put(job);
    });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    if (!isSafeId(id)) return undefined;
    return this.read(id);
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    if (!isSafeId(id)) return undefined;
    return this.serialise(id, async () => {
      const current = await this.read(id);
      if (!current) return undefined;
      const next: JobRecord = {
        ...current,
        ...patch,
        id: current.id,
        progress: Math.max(current.progress, patch.progress ?? current.progress),
        updated: patch.updated ?? new Date().toISOString(),
      };
      await this.write(next);
      this.index.put(next);
      return JSON.parse(JSON.stringify(next)) as JobRecord;
    });
  }

  async list(filter: JobFilter): Promise<JobPage> {
    const { ids, more } = this.index.query(filter);
    const records = await Promise.all(ids.map((id) => this.read(id)));
    return { jobs: records.filter((record): record is JobRecord => record !== undefined), more };
  }

  /** Ids with this status, oldest first (used to recover queued and interrupted jobs at startup). */
  idsWithStatus(status: JobStatus): string[] {
    return this.index.idsWithStatus(status);
  }

  private fileOf(id: string): string {
    return path.join(this.dir, id + RECORD_SUFFIX);
  }

  private async read(id: string): Promise<JobRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.fileOf(id), 'utf8')) as JobRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async write(job: JobRecord): Promise<void> {
    const target = this.fileOf(job.id);
    const temporary = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(temporary, JSON.stringify(job));
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  private serialise<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.writeChains.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.writeChains.set(id, settled);
    void settled.then(() => {
      if (this.writeChains.get(id) === settled) this.writeChains.delete(id);
    });
    return next;
  }

  /**
   * Every stored record; leftover temporary files of interrupted writes are deleted, unreadable files skipped.
   * Synchronous on purpose: it runs once before the server serves anything, and for 100,000 small files
   * sync reads are several times faster than promise reads going through the libuv thread pool.
   */
  private readAll(): JobRecord[] {
    const records: JobRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.includes('.tmp-')) {
        rmSync(file, { force: true });
        continue;
      }
      if (!name.endsWith(RECORD_SUFFIX)) continue;
      try {
        const record = JSON.parse(readFileSync(file, 'utf8')) as JobRecord;
        if (record?.id && record.status) records.push(record);
      } catch (error) {
        console.warn(`skipping unreadable job record ${file}: ${String(error)}`);
      }
    }
    return records;
  }
}
