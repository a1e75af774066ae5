import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessRegistry } from '../src/ogc/registry';
import { jobOutputStore } from '../src/jobs/output-store';
import { runUnit, UnitPool } from '../src/jobs/unit-pool';
import { FIXTURE_PROCESSES, eventually, temporaryDir } from './jobs-helpers';

interface SquarePayload {
  value: number;
  busyMs: number;
  fail?: boolean;
}

describe('UnitPool (worker threads)', () => {
  const registry = ProcessRegistry.load(FIXTURE_PROCESSES);
  let outputRoot: string;
  let removeOutputs: () => Promise<void>;
  let pool: UnitPool;

  beforeEach(async () => {
    ({ dir: outputRoot, remove: removeOutputs } = await temporaryDir('unit-pool'));
    pool = new UnitPool({ registry, outputRoot, size: 2 });
  });

  afterEach(async () => {
    await pool.close();
    await removeOutputs();
  });

  const square = (values: number[], signal: AbortSignal, failAt = -1, onUnitDone?: (index: number, result: number) => void) =>
    pool.map<SquarePayload, number>(
      { jobId: 'job-1', processId: 'units-demo', signal },
      'square',
      // Earlier payloads take longer, so units finish out of payload order.
      values.map((value, index) => ({ value, busyMs: 30 * (values.length - index), fail: index === failAt })),
      onUnitDone,
    );

  it('returns results in payload order and reports each finished unit', async () => {
    const finished: Array<[number, number]> = [];
    const results = await square([1, 2, 3, 4, 5], new AbortController().signal, -1, (index, result) => finished.push([index, result]));
    expect(results).toEqual([1, 4, 9, 16, 25]);
    expect(finished.sort((a, b) => a[0] - b[0])).toEqual([[0, 1], [1, 4], [2, 9], [3, 16], [4, 25]]);
    expect(pool.threadCount).toBe(2);
  });

  it('resolves at once with no payloads', async () => {
    await expect(square([], new AbortController().signal)).resolves.toEqual([]);
    expect(pool.threadCount).toBe(0);
  });

  it('rejects with the error of a failing unit and stays usable', async () => {
    await expect(square([1, 2, 3, 4], new AbortController().signal, 2)).rejects.toThrow('unit failed on value 3');
    await expect(square([6, 7], new AbortController().signal)).resolves.toEqual([36, 49]);
  });

  describe('locality groups', () => {
    interface Where {
      thread: number;
      order: number;
    }
    const where = (groups: string[], busyMs = 30) =>
      pool.map<{ busyMs: number }, Where>(
        { jobId: 'job-1', processId: 'units-demo', signal: new AbortController().signal },
        'where',
        groups.map(() => ({ busyMs })),
        undefined,
        { groups },
      );
    /** Payload indexes per thread, in the order each thread ran them. */
    const byThread = (results: Where[]) => {
      const threads = new Map<number, { index: number; order: number }[]>();
      results.forEach(({ thread, order }, index) => threads.set(thread, [...(threads.get(thread) ?? []), { index, order }]));
      return [...threads.values()].map((units) => units.sort((a, b) => a.order - b.order).map((unit) => unit.index));
    };

    /** Both threads started and idle, so neither lags behind the other by its start-up. */
    const warmUp = () => where(['warm-1', 'warm-2'], 100);

    /** A thread's run: its own group from the front, then possibly units stolen from the back of the other. */
    const expectOwnThenStolen = (run: number[], own: number[], other: number[]) => {
      const ownPart = run.filter((index) => own.includes(index));
      const stolen = run.slice(ownPart.length);
      expect(run.slice(0, ownPart.length)).toEqual(own.slice(0, ownPart.length));
      expect(stolen).toEqual([...other].reverse().slice(0, stolen.length));
      return ownPart.length;
    };

    it('keeps each thread on one group while it has units', async () => {
      await warmUp();
      const groups = Array.from({ length: 12 }, (_, index) => (index % 2 === 0 ? 'a' : 'b'));
      const a = [0, 2, 4, 6, 8, 10];
      const b = [1, 3, 5, 7, 9, 11];
      const [first, second] = byThread(await where(groups)).sort((x, y) => x[0] - y[0]);
      expect([...first, ...second].sort((x, y) => x - y)).toEqual([...a, ...b].sort((x, y) => x - y));
      // Each thread works through most of its own group before helping with the other one.
      expect(expectOwnThenStolen(first, a, b)).toBeGreaterThanOrEqual(4);
      expect(expectOwnThenStolen(second, b, a)).toBeGreaterThanOrEqual(4);
    });

    it('sends a thread whose group is done to the back of the largest group', async () => {
      await warmUp();
      const groups = ['a', 'b', 'a', 'a', 'a', 'a', 'a', 'a', 'a'];
      const [front, back] = byThread(await where(groups)).sort((x, y) => x[0] - y[0]);
      expect(back[0]).toBe(1);
      const stolen = back.slice(1);
      expect(stolen.length).toBeGreaterThan(0);
      // The first thread works group a from the front, the second from the back: together they cover it once.
      expect(front).toEqual([...front].sort((x, y) => x - y));
      expect(stolen).toEqual([...stolen].sort((x, y) => y - x));
      expect([...front, ...stolen].sort((x, y) => x - y)).toEqual([0, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('rejects groups that do not give one string per payload', async () => {
      const map = (groups: unknown[]) =>
        pool.map({ jobId: 'job-1', processId: 'units-demo', signal: new AbortController().signal }, 'where', [{ busyMs: 0 }, { busyMs: 0 }], undefined, { groups: groups as string[] });
      await expect(map(['a'])).rejects.toThrow('groups must give one string per payload');
      await expect(map(['a', 3])).rejects.toThrow('groups must give one string per payload');
      await expect(map(['a', 'a'])).resolves.toHaveLength(2);
    });
  });

  it('rejects a unit the process does not have', async () => {
    const map = pool.map({ jobId: 'job-1', processId: 'units-demo', signal: new AbortController().signal }, 'cube', [1]);
    await expect(map).rejects.toThrow('process units-demo has no unit cube');
  });

  it('terminates a busy-looping unit within 2 s of the abort', async () => {
    const controller = new AbortController();
    const heartbeat = jobOutputStore(outputRoot, 'job-spin').path('heartbeat');
    const spinning = pool.map({ jobId: 'job-spin', processId: 'units-demo', signal: controller.signal }, 'spin', [{}]);
    spinning.catch(() => undefined);
    await eventually(() => existsSync(heartbeat));
    expect(pool.threadCount).toBe(1);

    const abortedAt = Date.now();
    controller.abort(new Error('dismissed'));
    await expect(spinning).rejects.toThrow('dismissed');
    await eventually(() => pool.threadCount === 0, 2_000);
    const stoppedWithin = Date.now() - abortedAt;
    expect(stoppedWithin).toBeLessThan(2_000);

    // The thread is gone: its heartbeat no longer changes.
    const last = readFileSync(heartbeat, 'utf8');
    await sleep(200);
    expect(readFileSync(heartbeat, 'utf8')).toBe(last);
  });

  it('drops the queued units of an aborted map but keeps other jobs running', async () => {
    const spinController = new AbortController();
    const spins = pool.map({ jobId: 'job-spin', processId: 'units-demo', signal: spinController.signal }, 'spin', [{}, {}, {}, {}]);
    spins.catch(() => undefined);
    await eventually(() => pool.threadCount === 2);
    const squares = square([3, 4], new AbortController().signal);
    spinController.abort(new Error('dismissed'));
    await expect(spins).rejects.toThrow('dismissed');
    await expect(squares).resolves.toEqual([9, 16]);
  });

  it('fails a unit whose result cannot be cloned, or whose thread dies, and replaces the thread', async () => {
    const request = { jobId: 'job-1', processId: 'units-demo', signal: new AbortController().signal };
    await expect(pool.map(request, 'uncloneable', [{}])).rejects.toThrow(/could not be cloned/);
    await expect(pool.map(request, 'crash', [{}])).rejects.toThrow('unit worker exited with code 3');
    await expect(square([2], new AbortController().signal)).resolves.toEqual([4]);
  });

  it('lets the units of jobs take turns on the threads', async () => {
    const order: string[] = [];
    const slow = (value: number) => ({ value, busyMs: 60 });
    const big = pool.map<SquarePayload, number>(
      { jobId: 'big', processId: 'units-demo', signal: new AbortController().signal },
      'square',
      Array.from({ length: 12 }, (_, n) => slow(n)),
      (index) => order.push(`big ${index}`),
    );
    const small = pool.map<SquarePayload, number>(
      { jobId: 'small', processId: 'units-demo', signal: new AbortController().signal },
      'square',
      [slow(100), slow(200)],
      (index) => order.push(`small ${index}`),
    );
    await Promise.all([big, small]);
    // FIFO would finish all 12 units of the big job first; taking turns dispatches the small job's second unit sixth.
    expect(order.indexOf('small 1')).toBeLessThan(order.indexOf('big 11'));
    expect(order.indexOf('small 1')).toBeLessThan(8);
  });

  it('runUnit runs a unit function in the calling thread', async () => {
    const ctx = { jobId: 'job-1', signal: new AbortController().signal, store: jobOutputStore(outputRoot, 'job-1') };
    await expect(runUnit(registry, 'units-demo', 'square', { value: 12, busyMs: 0 }, ctx)).resolves.toBe(144);
    await expect(runUnit(registry, 'units-demo', 'missing', {}, ctx)).rejects.toThrow('has no unit missing');
  });
});
