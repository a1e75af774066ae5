/** Process list and process descriptions, precomputed once and cached per base URL. */
import { noSuchProcess } from './exceptions';
import { JSON_TYPE, Rel, selfLinks, withQuery } from './links';
import { toOgcSchema } from './ogc-schema';
import type { Link, ProcessDescription, ProcessPlugin } from './process';
import type { ProcessRegistry } from './registry';
import { pagingLinks, type Paging } from './query';

export interface SerializedBody {
  json: unknown;
  payload: Buffer;
}

const MAX_CACHED_PAGES = 512;

/** The parts of a description common to its summary and its full form, schemas converted for OGC. */
interface PublishedProcess {
  summary: Omit<ProcessDescription, 'inputs' | 'outputs'>;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

export class ProcessCatalog {
  private readonly published: Map<string, PublishedProcess>;
  private readonly cache = new Map<string, SerializedBody>();

  constructor(private readonly registry: ProcessRegistry) {
    this.published = new Map(registry.list().map((plugin) => [plugin.description.id, publish(plugin.description)]));
  }

  plugin(id: string): ProcessPlugin {
    const plugin = this.registry.get(id);
    if (!plugin) throw noSuchProcess(id);
    return plugin;
  }

  ids(): string[] {
    return [...this.published.keys()];
  }

  /** The process list page; the same page for the same base URL is built and serialized once. */
  list(baseUrl: string, paging: Paging): SerializedBody {
    return this.cached(`list ${baseUrl} ${paging.limit} ${paging.offset}`, () => {
      const all = [...this.published.values()];
      const page = all.slice(paging.offset, paging.offset + paging.limit);
      const href = withQuery(`${baseUrl}/processes`, { limit: paging.limit, offset: paging.offset || undefined });
      return {
        processes: page.map((process) => ({ ...process.summary, links: processLinks(baseUrl, process.summary.id, process.summary.title) })),
        links: [...selfLinks(href, 'Processes'), ...pagingLinks(withQuery(href, { f: 'json' }), paging, paging.offset + paging.limit < all.length)],
      };
    });
  }

  describe(baseUrl: string, id: string): SerializedBody {
    const process = this.published.get(id);
    if (!process) throw noSuchProcess(id);
    return this.cached(`describe ${baseUrl} ${id}`, () => ({
      ...process.summary,
      inputs: process.inputs,
      outputs: process.outputs,
      links: [
        ...selfLinks(`${baseUrl}/processes/${encodeURIComponent(id)}`, process.summary.title ?? id),
        { href: `${baseUrl}/processes/${encodeURIComponent(id)}/execution`, rel: Rel.execute, type: JSON_TYPE, title: `Execute ${id}` },
        { href: `${baseUrl}/processes?f=json`, rel: 'up', type: JSON_TYPE, title: 'Processes' },
      ],
    }));
  }

  private cached(key: string, build: () => unknown): SerializedBody {
    let entry = this.cache.get(key);
    if (!entry) {
      if (this.cache.size >= MAX_CACHED_PAGES) this.cache.clear();
      const json = build();
      entry = { json, payload: Buffer.from(JSON.stringify(json)) };
      this.cache.set(key, entry);
    }
    return entry;
  }
}

function processLinks(baseUrl: string, id: string, title?: string): Link[] {
  const href = `${baseUrl}/processes/${encodeURIComponent(id)}`;
  return [
    { href: `${href}?f=json`, rel: 'self', type: JSON_TYPE, title: title ?? id },
    { href: `${href}?f=json`, rel: Rel.processDescription, type: JSON_TYPE, title: `Description of ${id}` },
    { href: `${href}?f=html`, rel: 'alternate', type: 'text/html', title: `${title ?? id} as HTML` },
  ];
}

function publish(description: ProcessDescription): PublishedProcess {
  const { inputs, outputs, ...summary } = description;
  const convertIo = (entries: Record<string, { schema: Record<string, unknown> }>) =>
    Object.fromEntries(Object.entries(entries).map(([id, io]) => [id, { ...io, schema: toOgcSchema(io.schema) }]));
  return {
    summary: {
      id: summary.id,
      version: summary.version,
      ...(summary.title !== undefined && { title: summary.title }),
      ...(summary.description !== undefined && { description: summary.description }),
      ...(summary.keywords !== undefined && { keywords: summary.keywords }),
      jobControlOptions: summary.jobControlOptions,
      outputTransmission: summary.outputTransmission,
    },
    inputs: convertIo(inputs),
    outputs: convertIo(outputs),
  };
}
