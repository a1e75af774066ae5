import { fetchJson, type RequestOptions } from './http';
import type { ItemCollection, StacItem, StacLink } from './types';

/** STAC API page size limit most servers enforce (Planetary Computer: 1000, Earth Search: 100 in practice). */
const MAX_PAGE_SIZE = 100;

export interface SearchParams extends RequestOptions {
  stacApi: string;
  collections: string[];
  /** WGS84 [west, south, east, north]. */
  bbox: [number, number, number, number];
  /** RFC 3339 interval, e.g. `2020-10-01T00:00:00Z/2020-12-31T23:59:59Z`. */
  datetime: string;
  /** Only items with eo:cloud_cover strictly below this (the STAC API `query` extension). */
  maxCloudCover?: number;
  maxItems: number;
  pageSize?: number;
  /** Called after each page (number of items so far), for progress. */
  onPage?: (itemsSoFar: number, page: number) => void;
}

export interface PageRequest {
  url: string;
  method: 'GET' | 'POST';
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
}

function searchUrl(stacApi: string): string {
  return `${stacApi.replace(/\/+$/, '')}/search`;
}

function firstRequest(params: SearchParams): PageRequest {
  const body: Record<string, unknown> = {
    collections: params.collections,
    bbox: params.bbox,
    datetime: params.datetime,
    limit: Math.max(1, Math.min(MAX_PAGE_SIZE, params.pageSize ?? MAX_PAGE_SIZE, params.maxItems)),
  };
  if (params.maxCloudCover !== undefined) body.query = { 'eo:cloud_cover': { lt: params.maxCloudCover } };
  return { url: searchUrl(params.stacApi), method: 'POST', body };
}

/** The request for a `next` link: GET its href, or POST its body, merged into the previous body when `merge` is true. */
export function nextRequest(link: StacLink, previous: PageRequest): PageRequest {
  const method = (link.method ?? 'GET').toUpperCase();
  const url = new URL(link.href, previous.url).toString();
  if (method !== 'POST') return { url, method: 'GET', headers: link.headers };
  const body = link.merge ? { ...previous.body, ...link.body } : (link.body ?? previous.body);
  return { url, method: 'POST', body, headers: link.headers };
}

async function fetchPage(request: PageRequest, params: SearchParams): Promise<ItemCollection> {
  const headers: Record<string, string> = { accept: 'application/geo+json, application/json', ...request.headers };
  const init: RequestInit = { method: request.method, headers };
  if (request.method === 'POST') {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(request.body ?? {});
  }
  const page = await fetchJson<ItemCollection>(request.url, init, params);
  if (!page || !Array.isArray(page.features)) throw new Error(`${request.method} ${request.url} did not answer with a FeatureCollection`);
  return page;
}

/**
 * STAC API item search (POST /search) with the cloud-cover `query` filter, following `next` links until
 * `maxItems` items are collected or no page follows. Requests are retried per `retry` (429/5xx/network).
 */
export async function searchItems(params: SearchParams): Promise<StacItem[]> {
  const items: StacItem[] = [];
  const followed = new Set<string>();
  let request = firstRequest(params);
  for (let page = 1; items.length < params.maxItems; page++) {
    params.signal?.throwIfAborted();
    const collection = await fetchPage(request, params);
    items.push(...collection.features.slice(0, params.maxItems - items.length));
    params.onPage?.(items.length, page);
    const next = collection.links?.find((link) => link.rel === 'next');
    if (!next || collection.features.length === 0) break;
    const following = nextRequest(next, request);
    const key = `${following.method} ${following.url} ${JSON.stringify(following.body ?? null)}`;
    // A server that hands back the same next link forever would otherwise loop until maxItems.
    if (followed.has(key)) throw new Error(`STAC API paging loop: next link repeats ${following.method} ${following.url}`);
    followed.add(key);
    request = following;
  }
  return items;
}
