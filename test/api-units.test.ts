/** Pure parts of the protocol layer: Prefer parsing, content negotiation, base URLs, ranges, datetimes, schemas, config. */
import { loadConfig } from '../src/config';
import { baseUrlOf, prefersHtml } from '../src/http/negotiation';
import { escapeHtml } from '../src/http/html';
import { prefersAsync } from '../src/ogc/api';
import { ApiError } from '../src/ogc/exceptions';
import { parseRange } from '../src/ogc/job-files';
import { parseDatetime, parseJobFilter } from '../src/ogc/jobs';
import { toOgcSchema } from '../src/ogc/ogc-schema';
import { ExecuteRequestParser } from '../src/ogc/execute-request';
import { ProcessCatalog } from '../src/ogc/processes';
import { ProcessRegistry } from '../src/ogc/registry';
import { errors10, errorsParameter, processDescriptionErrors } from './helpers/ogc-schemas';

describe('Prefer header', () => {
  it.each([
    [['respond-async'], true],
    [['RESPOND-ASYNC'], true],
    [[' respond-async ; wait=5'], true],
    [['wait=10, respond-async'], true],
    [['wait=10', 'respond-async'], true],
    [['respond-sync'], false],
    [['return=minimal'], false],
    [[], false],
  ])('%p → async %p', (values, expected) => {
    expect(prefersAsync(values)).toBe(expected);
  });
});

describe('content negotiation', () => {
  it.each([
    [undefined, undefined, false],
    [undefined, '*/*', false],
    [undefined, 'application/json', false],
    [undefined, 'text/html', true],
    [undefined, 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    [undefined, 'application/json;q=0.9, text/html', true],
    [undefined, 'text/html;q=0.4, application/json;q=0.6', false],
    [undefined, 'text/*;q=1, application/json;q=0.5', true],
    [undefined, 'text/html;q=0', false],
    ['json', 'text/html', false],
    ['html', 'application/json', true],
  ])('f=%p Accept=%p → HTML %p', (format, accept, expected) => {
    expect(prefersHtml(format, accept)).toBe(expected);
  });

  it('rejects an unknown f', () => {
    expect(() => prefersHtml('xml', undefined)).toThrow(ApiError);
  });
});

describe('base URL', () => {
  it('prefers PUBLIC_URL, then X-Forwarded-*, then Host', () => {
    expect(baseUrlOf({ host: 'a:1' }, false, 'x:2', 'https://public.example/ogc')).toBe('https://public.example/ogc');
    expect(baseUrlOf({ host: 'a:1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'b.example, c.example', 'x-forwarded-prefix': '/api/' }, false, 'x:2')).toBe('https://b.example/api');
    expect(baseUrlOf({ host: 'a:1' }, false, 'x:2')).toBe('http://a:1');
  });

  it('ignores hosts and prefixes that could inject markup or headers', () => {
    expect(baseUrlOf({ host: 'evil"><script>' }, false, '127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(baseUrlOf({ host: 'a', 'x-forwarded-prefix': '/"x' }, false, 'b')).toBe('http://a');
    expect(baseUrlOf({ host: 'a', 'x-forwarded-proto': 'gopher' }, true, 'b')).toBe('https://a');
  });
});

describe('byte ranges', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-5', 100, { start: 95, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    ['bytes=50-5000', 100, { start: 50, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=0-1,4-5', 100, undefined],
    ['bytes=9-3', 100, undefined],
    ['items=0-1', 100, undefined],
    ['bytes=-', 100, undefined],
  ])('%s of %d bytes → %p', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('datetime filter', () => {
  it('reads instants, dates and intervals with open ends', () => {
    expect(parseDatetime('2024-05-01T10:00:00Z')).toEqual({ createdFrom: '2024-05-01T10:00:00.000Z', createdTo: '2024-05-01T10:00:00.000Z' });
    expect(parseDatetime('2024-05-01')).toEqual({ createdFrom: '2024-05-01T00:00:00.000Z', createdTo: '2024-05-01T23:59:59.999Z' });
    expect(parseDatetime('2024-05-01T12:00:00+02:00/..')).toEqual({ createdFrom: '2024-05-01T10:00:00.000Z' });
    expect(parseDatetime('/2024-05-02')).toEqual({ createdTo: '2024-05-02T23:59:59.999Z' });
    expect(parseDatetime(undefined)).toEqual({});
  });

  it.each(['tomorrow', '2024-13-45', '2024-05-01/2024-04-01', '../..', 'a/b/c', '2024-05-01T10:00'])('rejects %s', (text) => {
    expect(() => parseDatetime(text)).toThrow(ApiError);
  });

  it('accepts exactly the limits and filter values the official parameter definitions allow', () => {
    for (const limit of [1, 10, 10_000]) {
      expect(errorsParameter('limit', limit)).toEqual([]);
      expect(parseJobFilter({ limit: String(limit) }).limit).toBe(limit);
    }
    for (const limit of [0, 10_001]) {
      expect(errorsParameter('limit', limit)).not.toEqual([]);
      expect(() => parseJobFilter({ limit: String(limit) })).toThrow(ApiError);
    }
    expect(errorsParameter('status', ['running', 'dismissed'])).toEqual([]);
    expect(parseJobFilter({ status: 'running,dismissed' }).statuses).toEqual(['running', 'dismissed']);
    expect(errorsParameter('status', ['done'])).not.toEqual([]);
    expect(() => parseJobFilter({ status: 'done' })).toThrow(ApiError);
    expect(errorsParameter('type', ['process'])).toEqual([]);
    expect(errorsParameter('minDuration', [3])).toEqual([]);
  });

  it('builds the store filter from the query', () => {
    expect(parseJobFilter({ processID: ['a,b', 'c'], status: 'running', limit: '3', offset: '6', minDuration: '2' })).toEqual({
      processIds: ['a', 'b', 'c'],
      statuses: ['running'],
      limit: 3,
      offset: 6,
      minDuration: 2,
    });
  });
});

describe('OGC publication of JSON Schemas', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['const', { const: 5 }, { enum: [5] }],
    ['examples', { type: 'string', examples: ['a', 'b'] }, { type: 'string', example: 'a' }],
    ['numeric exclusive bounds', { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 9 }, { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 9, exclusiveMaximum: true }],
    ['nullable type arrays', { type: ['string', 'null'] }, { type: 'string', nullable: true }],
    ['several types', { type: ['string', 'number'] }, { oneOf: [{ type: 'string' }, { type: 'number' }] }],
    ['dialect and ids', { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'x', $comment: 'c', type: 'integer' }, { type: 'integer' }],
    [
      'local references',
      { type: 'object', properties: { p: { $ref: '#/$defs/point' } }, $defs: { point: { type: 'array', items: { type: 'number' }, prefixItems: [] } } },
      { type: 'object', properties: { p: { type: 'array', items: { type: 'number' } } } },
    ],
  ])('converts %s', (_name, schema, expected) => {
    const converted = toOgcSchema(schema);
    expect(converted).toEqual(expected);
    expect(errors10('schema', converted)).toEqual([]);
  });

  it('keeps an explicit oneOf next to a type array', () => {
    const converted = toOgcSchema({ type: ['string', 'integer'], oneOf: [{ minLength: 2 }, { minimum: 3 }] });
    expect(converted).toEqual({ oneOf: [{ minLength: 2 }, { minimum: 3 }], allOf: [{ oneOf: [{ type: 'string' }, { type: 'integer' }] }] });
  });
});

describe('HTML escaping', () => {
  it('escapes markup and quotes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });
});

describe('configuration', () => {
  it('has defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, host: '127.0.0.1', redisUrl: undefined, publicUrl: undefined });
    expect(config.dataDir).toMatch(/\/data$/);
    expect(config.outputDir).toMatch(/\/data\/outputs$/);
  });

  it('reads every variable', () => {
    const config = loadConfig({ PORT: '9000', HOST: '0.0.0.0', DATA_DIR: '/srv/d', OUTPUT_DIR: '/srv/o', REDIS_URL: 'redis://r:6379/1', WORKERS: '0', QUEUE_PREFIX: 'q', PUBLIC_URL: 'https://x.example/base/' });
    expect(config).toEqual({ port: 9000, host: '0.0.0.0', dataDir: '/srv/d', outputDir: '/srv/o', redisUrl: 'redis://r:6379/1', workers: 0, queuePrefix: 'q', publicUrl: 'https://x.example/base', jsonLimit: '10mb' });
  });

  it.each([{ PORT: 'eighty' }, { PORT: '70000' }, { WORKERS: '-1' }, { PUBLIC_URL: 'not a url' }, { PUBLIC_URL: 'ftp://x' }])('rejects %p', (env) => {
    expect(() => loadConfig(env)).toThrow(/PORT|WORKERS|PUBLIC_URL/);
  });
});

describe('the processes this server offers', () => {
  it('publish descriptions valid against process.yaml and the strict schema.yaml', () => {
    const registry = ProcessRegistry.load();
    const catalog = new ProcessCatalog(registry);
    expect(catalog.ids()).toContain('echo');
    for (const id of catalog.ids()) {
      const published = catalog.describe('http://127.0.0.1:8080', id).json;
      expect({ id, errors: processDescriptionErrors(published) }).toEqual({ id, errors: [] });
    }
  });

  it('have input schemas the execute validator compiles', () => {
    const descriptions = ProcessRegistry.load().list().map((plugin) => plugin.description);
    expect(() => new ExecuteRequestParser().prepare(descriptions)).not.toThrow();
  });
});
