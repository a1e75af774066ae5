import { nextRequest, searchItems } from '../src/stac/client';
import { StacHttpError } from '../src/stac/http';
import { PRESETS } from './fixtures/sentinel2';
import { startStacFixture, type StacFixture, type StacFixtureOptions } from './fixtures/stac-api';
import { tinyItemsDir } from './stac-helpers';

const Q4 = '2020-10-01T00:00:00Z/2020-12-31T23:59:59Z';
const AOI = PRESETS.tiny.aoi;
const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };

let dataDir: string;
let removeData: () => Promise<void>;
const fixtures: StacFixture[] = [];

beforeAll(async () => {
  ({ dir: dataDir, remove: removeData } = await tinyItemsDir());
});

afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));
});

afterAll(() => removeData());

async function fixture(options: Partial<StacFixtureOptions> = {}): Promise<StacFixture> {
  const started = await startStacFixture({ dataDir, flavour: 'planetary-computer', ...options });
  fixtures.push(started);
  return started;
}

function search(api: StacFixture, extra: Partial<Parameters<typeof searchItems>[0]> = {}) {
  return searchItems({ stacApi: api.url, collections: ['sentinel-2-l2a'], bbox: AOI, datetime: Q4, maxItems: 1000, retry: FAST_RETRY, ...extra });
}

describe('searchItems paging', () => {
  test('Planetary Computer flavour: follows POST next links whose body is merged into the previous one', async () => {
    const api = await fixture({ flavour: 'planetary-computer', pageSize: 3 });
    const items = await search(api, { maxItems: 100 });
    expect(items.map((item) => item.id)).toEqual(api.items.map((item) => item.id));
    expect(api.searches.length).toBe(Math.ceil(api.items.length / 3));
    expect(api.searches.every((request) => request.method === 'POST')).toBe(true);
    const [first, second] = api.searches.map((request) => request.parameters);
    expect(first).toMatchObject({ collections: ['sentinel-2-l2a'], bbox: AOI, datetime: Q4 });
    expect(first.token).toBeUndefined();
    expect(second).toMatchObject({ collections: ['sentinel-2-l2a'], bbox: AOI, datetime: Q4, token: expect.any(String) });
  });

  test('Earth Search flavour: follows GET next links carrying a next token', async () => {
    const api = await fixture({ flavour: 'earth-search', pageSize: 4 });
    const items = await search(api);
    expect(items.map((item) => item.id)).toEqual(api.items.map((item) => item.id));
    expect(api.searches[0].method).toBe('POST');
    expect(api.searches.slice(1).every((request) => request.method === 'GET' && typeof request.parameters.next === 'string')).toBe(true);
    expect(api.searches.length).toBe(Math.ceil(api.items.length / 4));
  });

  test.each(['planetary-computer', 'earth-search'] as const)('%s: stops at max_items, in the middle of a page', async (flavour) => {
    const api = await fixture({ flavour, pageSize: 4 });
    const items = await search(api, { maxItems: 6 });
    expect(items.map((item) => item.id)).toEqual(api.items.slice(0, 6).map((item) => item.id));
    expect(api.searches.length).toBe(2);
  });

  test('asks for pages of at most 100 and no more than max_items', async () => {
    const api = await fixture({ pageSize: 500 });
    await search(api, { maxItems: 5 });
    expect(api.searches[0].parameters.limit).toBe(5);
    await search(api, { maxItems: 5000 });
    expect(api.searches[1].parameters.limit).toBe(100);
  });
});

describe('nextRequest', () => {
  const previous = { url: 'https://stac.example/api/search', method: 'POST' as const, body: { collections: ['c'], limit: 10, token: 'a' } };

  test('POST with merge: the link body is merged into the previous body', () => {
    expect(nextRequest({ rel: 'next', href: 'https://stac.example/api/search', method: 'POST', body: { token: 'b' }, merge: true }, previous)).toEqual({
      url: 'https://stac.example/api/search',
      method: 'POST',
      body: { collections: ['c'], limit: 10, token: 'b' },
    });
  });

  test('POST without merge: the link body replaces the previous one', () => {
    expect(nextRequest({ rel: 'next', href: 'search', method: 'POST', body: { token: 'b' } }, previous)).toMatchObject({ url: 'https://stac.example/api/search', body: { token: 'b' } });
  });

  test('GET (the default): the href, resolved against the previous request', () => {
    expect(nextRequest({ rel: 'next', href: '/api/search?next=x' }, previous)).toEqual({ url: 'https://stac.example/api/search?next=x', method: 'GET' });
  });
});

describe('searchItems filters', () => {
  test('the cloud-cover filter keeps only items strictly below the limit', async () => {
    const api = await fixture({ pageSize: 5 });
    const cloudCover = (item: { properties: Record<string, unknown> }) => item.properties['eo:cloud_cover'] as number;
    expect(api.items.some((item) => cloudCover(item) >= 25)).toBe(true);
    const items = await search(api, { maxCloudCover: 25 });
    expect(items.length).toBeGreaterThan(0);
    expect(items.map((item) => item.id)).toEqual(api.items.filter((item) => cloudCover(item) < 25).map((item) => item.id));
    expect(api.searches[0].parameters.query).toEqual({ 'eo:cloud_cover': { lt: 25 } });
  });

  test('datetime and bbox restrict the result', async () => {
    const api = await fixture();
    const november = await search(api, { datetime: '2020-11-01T00:00:00Z/2020-11-30T23:59:59Z' });
    expect(november.length).toBeGreaterThan(0);
    expect(november.every((item) => String(item.properties.datetime).startsWith('2020-11'))).toBe(true);
    const farAway = await search(api, { bbox: [10, 10, 11, 11] });
    expect(farAway).toEqual([]);
  });
});

describe('searchItems retries', () => {
  test('429 then success: waits at least Retry-After seconds', async () => {
    const api = await fixture({ failFirst: { status: 429, retryAfter: 1 } });
    const started = Date.now();
    const items = await search(api);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(items.length).toBe(api.items.length);
    expect(api.counters.faultsInjected).toBe(1);
  });

  test('Retry-After as an HTTP date is honoured', async () => {
    const retryAt = new Date(Date.now() + 2000);
    const api = await fixture({ failFirst: { status: 429, retryAfter: retryAt.toUTCString() } });
    const waits: number[] = [];
    await search(api, { onRetry: (_attempt, delayMs) => waits.push(delayMs) });
    // HTTP dates have whole seconds: the wait is between 1 and 2 s.
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(900);
    expect(Date.now()).toBeGreaterThanOrEqual(retryAt.getTime() - 1000);
  });

  test('5xx: retried with backoff, then success', async () => {
    const api = await fixture({ failFirst: { status: 503, times: 2 } });
    const attempts: number[] = [];
    const items = await search(api, { onRetry: (attempt) => attempts.push(attempt) });
    expect(items.length).toBe(api.items.length);
    expect(attempts).toEqual([1, 2]);
  });

  test('5xx: bounded tries, then an error naming the status and the body', async () => {
    const api = await fixture({ failFirst: { status: 503, times: 100 } });
    const failure = search(api, { retry: { ...FAST_RETRY, maxAttempts: 3 } });
    await expect(failure).rejects.toThrow(StacHttpError);
    await expect(search(api, { retry: { ...FAST_RETRY, maxAttempts: 3 } })).rejects.toMatchObject({
      status: 503,
      message: expect.stringMatching(/POST .*\/search failed with HTTP 503 after 3 attempts: .*injected fault 503/),
    });
    expect(api.counters.faultsInjected).toBe(6);
  });

  test('a 4xx answer is not retried and its body is in the error', async () => {
    const api = await fixture();
    const badBbox = [1, 2, 3] as unknown as [number, number, number, number];
    await expect(search(api, { bbox: badBbox })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('bbox must be 4 numbers') });
    expect(api.counters.searchRequests).toBe(1);
  });

  test('network errors are retried, then reported', async () => {
    const api = await fixture();
    const url = api.url;
    await api.close();
    fixtures.splice(fixtures.indexOf(api), 1);
    const attempts: number[] = [];
    await expect(
      searchItems({ stacApi: url, collections: ['sentinel-2-l2a'], bbox: AOI, datetime: Q4, maxItems: 10, retry: { ...FAST_RETRY, maxAttempts: 3 }, onRetry: (a) => attempts.push(a) }),
    ).rejects.toThrow(/failed after 3 attempts/);
    expect(attempts).toEqual([1, 2]);
  });

  test('aborting during a Retry-After wait ends the search at once', async () => {
    const api = await fixture({ failFirst: { status: 429, retryAfter: 30 } });
    const controller = new AbortController();
    const failure = search(api, { signal: controller.signal, onRetry: () => controller.abort(new Error('dismissed')) });
    const started = Date.now();
    await expect(failure).rejects.toThrow('dismissed');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
