import { SasSigner, hasSasSignature, signerFor, signingConfigFor, stripSas, PLANETARY_COMPUTER_TOKEN_ENDPOINT } from '../src/stac/signing';
import { startStacFixture, type StacFixture } from './fixtures/stac-api';
import { tinyItemsDir } from './stac-helpers';

const COLLECTION = 'sentinel-2-l2a';
let dataDir: string;
let removeData: () => Promise<void>;
let api: StacFixture;

beforeAll(async () => {
  ({ dir: dataDir, remove: removeData } = await tinyItemsDir());
});

beforeEach(async () => {
  api = await startStacFixture({ dataDir, flavour: 'planetary-computer', requireToken: true, tokenTtlSeconds: 600 });
});

afterEach(() => api.close());
afterAll(() => removeData());

/** A small COG-sized file the fixture serves: the items JSON itself stands in for an asset. */
function assetUrl(): string {
  return `${api.url}/data/stac/planetary-computer.json`;
}

async function rangeStatus(url: string): Promise<number> {
  const response = await fetch(url, { headers: { range: 'bytes=0-15' } });
  await response.arrayBuffer();
  return response.status;
}

describe('the fixture', () => {
  test('rejects unsigned asset requests and serves signed ones with HTTP Range', async () => {
    expect(await rangeStatus(assetUrl())).toBe(403);
    const signer = new SasSigner({ tokenEndpoint: api.tokenEndpoint });
    const signed = await signer.signHref(assetUrl(), COLLECTION);
    const response = await fetch(signed, { headers: { range: 'bytes=0-15' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(response.headers.get('content-range')).toMatch(/^bytes 0-15\/\d+$/);
    expect((await response.arrayBuffer()).byteLength).toBe(16);
    expect(api.counters.forbidden).toBe(1);
  });

  test('rejects a forged signature', async () => {
    expect(await rangeStatus(`${assetUrl()}?se=2099-01-01T00:00:00Z&sp=rl&sig=forged`)).toBe(403);
  });
});

describe('SasSigner', () => {
  test('caches the token per collection and reuses it', async () => {
    const signer = new SasSigner({ tokenEndpoint: api.tokenEndpoint });
    const hrefs = await Promise.all(api.items.slice(0, 5).map((item) => signer.signHref(item.assets.B04.href, COLLECTION)));
    await signer.signHref(api.items[6].assets.SCL.href, COLLECTION);
    expect(signer.tokenRequests).toBe(1);
    expect(api.counters.tokenRequests).toBe(1);
    expect(new Set(hrefs.map((href) => new URL(href).searchParams.get('sig'))).size).toBe(1);
    await signer.signHref(assetUrl(), 'another-collection');
    expect(api.counters.tokenRequests).toBe(2);
  });

  test('renews a token that is within the margin of its expiry', async () => {
    let now = Date.now();
    const signer = new SasSigner({ tokenEndpoint: api.tokenEndpoint, refreshMarginMs: 5 * 60_000, now: () => now });
    const first = await signer.token(COLLECTION);
    now += 4 * 60_000; // 6 min left of 10: still good
    expect(await signer.token(COLLECTION)).toBe(first);
    now += 2 * 60_000; // 4 min left: inside the 5 min margin
    const second = await signer.token(COLLECTION);
    expect(second).not.toBe(first);
    expect(api.counters.tokenRequests).toBe(2);
  });

  test('appends with ? or &, keeps fragments, and never signs twice', async () => {
    const signer = new SasSigner({ tokenEndpoint: api.tokenEndpoint });
    const plain = await signer.signHref('https://example.com/a.tif', COLLECTION);
    expect(plain).toMatch(/^https:\/\/example\.com\/a\.tif\?st=.*&sig=/);
    const withQuery = await signer.signHref('https://example.com/a.tif?x=1#part', COLLECTION);
    expect(withQuery).toMatch(/^https:\/\/example\.com\/a\.tif\?x=1&st=.*#part$/);
    expect(await signer.signHref(plain, COLLECTION)).toBe(plain);
    const foreign = 'https://example.com/b.tif?sv=2021&sig=abc';
    expect(await signer.signHref(foreign, COLLECTION)).toBe(foreign);
    expect(hasSasSignature(plain)).toBe(true);
    expect(stripSas(plain)).toBe('https://example.com/a.tif');
  });

  test('the 403 hook returns the URL signed with a fresh token, which the fixture accepts', async () => {
    const signer = new SasSigner({ tokenEndpoint: api.tokenEndpoint, collection: COLLECTION });
    const stale = `${assetUrl()}?se=2020-01-01T00:00:00Z&sp=rl&sig=expired`;
    expect(await rangeStatus(stale)).toBe(403);
    const renewed = await signer.forbiddenHandler()(stale);
    expect(renewed).toBeDefined();
    expect(new URL(renewed!).searchParams.getAll('sig')).toHaveLength(1);
    expect(await rangeStatus(renewed!)).toBe(206);
    const signed = await signer.signHref(assetUrl());
    const refreshed = await signer.refreshHref(signed);
    expect(refreshed).not.toBe(signed);
    expect(await rangeStatus(refreshed)).toBe(206);
    expect(api.counters.tokenRequests).toBe(2);
  });

  test('reads failing together with one stale token cause one renewal', async () => {
    const signer = new SasSigner({ tokenEndpoint: api.tokenEndpoint, collection: COLLECTION });
    const signed = await Promise.all(api.items.slice(0, 4).map((item) => signer.signHref(item.assets.B04.href)));
    const handler = signer.forbiddenHandler();
    const renewed = [];
    for (const href of signed) renewed.push(await handler(href));
    expect(api.counters.tokenRequests).toBe(2);
    expect(new Set(renewed.map((href) => new URL(href!).searchParams.get('sig'))).size).toBe(1);
    expect(renewed[0]).not.toBe(signed[0]);
  });

  test('token endpoint failures are retried, then reported with the status', async () => {
    await api.close();
    api = await startStacFixture({ dataDir, flavour: 'planetary-computer', requireToken: true, failFirst: { status: 500, times: 50, target: 'token' } });
    const signer = new SasSigner({ tokenEndpoint: api.tokenEndpoint, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    await expect(signer.signHref(assetUrl(), COLLECTION)).rejects.toMatchObject({ status: 500 });
    expect(api.counters.faultsInjected).toBe(2);
  });
});

describe('when signing is on', () => {
  test('on for Planetary Computer, off for other APIs, on with a configured token endpoint', () => {
    expect(signingConfigFor('https://planetarycomputer.microsoft.com/api/stac/v1', COLLECTION, undefined, {})).toEqual({
      tokenEndpoint: PLANETARY_COMPUTER_TOKEN_ENDPOINT,
      collection: COLLECTION,
    });
    expect(signingConfigFor('https://earth-search.aws.element84.com/v1', COLLECTION, undefined, {})).toBeUndefined();
    expect(signingConfigFor('http://127.0.0.1:9/', COLLECTION, undefined, { STAC_TOKEN_ENDPOINT: 'http://127.0.0.1:9/token' })).toEqual({
      tokenEndpoint: 'http://127.0.0.1:9/token',
      collection: COLLECTION,
    });
    expect(signerFor('https://earth-search.aws.element84.com/v1', {}, {})).toBeUndefined();
    expect(signerFor('https://planetarycomputer.microsoft.com/api/stac/v1', {}, {})?.tokenEndpoint).toBe(PLANETARY_COMPUTER_TOKEN_ENDPOINT);
  });

  test('signers made from a config are shared within the process, so work units share tokens', async () => {
    const config = { tokenEndpoint: api.tokenEndpoint, collection: COLLECTION };
    const first = signerFor(config);
    expect(signerFor({ ...config })).toBe(first);
    await first.signHref(assetUrl());
    await signerFor(config).signHref(`${assetUrl()}?copy=1`);
    expect(api.counters.tokenRequests).toBe(1);
  });
});
