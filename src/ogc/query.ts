/** Query-parameter parsing shared by the list endpoints. Every invalid value is a 400 naming the parameter. */
import { invalidParameter } from './exceptions';
import type { QueryValue } from './model';

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 10_000;

export interface Paging {
  limit: number;
  offset: number;
}

/** The single value of a parameter; repeating it is an error. */
export function singleValue(query: Record<string, QueryValue>, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) {
    if (value.length > 1) throw invalidParameter(name, 'may be given only once');
    return value[0];
  }
  return value;
}

/** An array parameter, given repeated (`a=x&a=y`), comma-separated (`a=x,y`) or both. */
export function listValue(query: Record<string, QueryValue>, name: string): string[] | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value]).flatMap((item) => item.split(',')).map((item) => item.trim());
  if (items.some((item) => item === '')) throw invalidParameter(name, 'contains an empty value');
  return items;
}

export function integerValue(query: Record<string, QueryValue>, name: string, min: number, max: number): number | undefined {
  const text = singleValue(query, name);
  if (text === undefined) return undefined;
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw invalidParameter(name, `must be an integer, got ${JSON.stringify(text)}`);
  const value = Number(text);
  if (value < min || value > max) throw invalidParameter(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function parsePaging(query: Record<string, QueryValue>): Paging {
  return {
    limit: integerValue(query, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT,
    offset: integerValue(query, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0,
  };
}

/** `next`/`prev` links of a page, keeping the other query parameters. */
export function pagingLinks(href: string, paging: Paging, more: boolean, type = 'application/json'): Array<{ href: string; rel: string; type: string; title: string }> {
  const links = [];
  const at = (offset: number): string => {
    const url = new URL(href);
    url.searchParams.set('offset', String(offset));
    url.searchParams.set('limit', String(paging.limit));
    return url.toString();
  };
  if (more) links.push({ href: at(paging.offset + paging.limit), rel: 'next', type, title: 'Next page' });
  if (paging.offset > 0) links.push({ href: at(Math.max(0, paging.offset - paging.limit)), rel: 'prev', type, title: 'Previous page' });
  return links;
}
