import type { Link } from './process';

export const Rel = {
  conformance: 'http://www.opengis.net/def/rel/ogc/1.0/conformance',
  processes: 'http://www.opengis.net/def/rel/ogc/1.0/processes',
  jobList: 'http://www.opengis.net/def/rel/ogc/1.0/job-list',
  execute: 'http://www.opengis.net/def/rel/ogc/1.0/execute',
  results: 'http://www.opengis.net/def/rel/ogc/1.0/results',
  processDescription: 'http://www.opengis.net/def/rel/ogc/1.0/process-desc',
} as const;

export const JSON_TYPE = 'application/json';
export const HTML_TYPE = 'text/html';
export const OPENAPI_TYPE = 'application/vnd.oai.openapi+json;version=3.0';

/** `href` with `extra` query parameters added (or replaced); undefined values are left out. */
export function withQuery(href: string, extra: Record<string, string | number | undefined>): string {
  const url = new URL(href);
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) url.searchParams.delete(name);
    else url.searchParams.set(name, String(value));
  }
  return url.toString();
}

/** The `self` (JSON) and `alternate` (HTML) links of a resource. */
export function selfLinks(href: string, title: string): Link[] {
  return [
    { href: withQuery(href, { f: 'json' }), rel: 'self', type: JSON_TYPE, title },
    { href: withQuery(href, { f: 'html' }), rel: 'alternate', type: HTML_TYPE, title: `${title} as HTML` },
  ];
}
