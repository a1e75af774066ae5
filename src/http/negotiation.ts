/** Content negotiation (HTML or JSON) and the public base URL of a request. */
import type { IncomingHttpHeaders } from 'node:http';
import { invalidParameter } from '../ogc/exceptions';

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header.split(',').flatMap((entry) => {
    const [range, ...params] = entry.trim().split(';');
    const [type, subtype] = range.trim().toLowerCase().split('/');
    if (!type || !subtype) return [];
    const qParam = params.map((param) => param.trim().split('=')).find(([name]) => name.trim().toLowerCase() === 'q');
    const q = qParam ? Number(qParam[1]) : 1;
    return [{ type, subtype, q: Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 0 }];
  });
}

/** The q-value of `type/subtype` under the most specific matching range (RFC 9110 §12.5.1). */
function qualityOf(ranges: MediaRange[], type: string, subtype: string): number {
  let best = { specificity: -1, q: 0 };
  for (const range of ranges) {
    const specificity = range.type === type && range.subtype === subtype ? 2 : range.type === type && range.subtype === '*' ? 1 : range.type === '*' ? 0 : -1;
    if (specificity > best.specificity) best = { specificity, q: range.q };
  }
  return best.q;
}

/** HTML when `f=html`, or when the Accept header ranks text/html above JSON; JSON is the default. */
export function prefersHtml(format: unknown, accept: string | undefined): boolean {
  if (format !== undefined) {
    if (format === 'html') return true;
    if (format === 'json') return false;
    throw invalidParameter('f', 'must be "json" or "html"');
  }
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const html = qualityOf(ranges, 'text', 'html');
  const json = qualityOf(ranges, 'application', 'json');
  return html > 0 && html > json;
}

const SAFE_HOST = /^[A-Za-z0-9.\-_:[\]]+$/;

function firstValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.split(',')[0].trim() || undefined;
}

/** The API's base URL: PUBLIC_URL if configured, else from X-Forwarded-Proto/Host/Prefix or Host. */
export function baseUrlOf(headers: IncomingHttpHeaders, encrypted: boolean, fallbackHost: string, publicUrl?: string): string {
  if (publicUrl) return publicUrl;
  const forwardedProto = firstValue(headers['x-forwarded-proto'])?.toLowerCase();
  const protocol = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : encrypted ? 'https' : 'http';
  const candidateHost = firstValue(headers['x-forwarded-host']) ?? headers.host;
  const host = candidateHost && SAFE_HOST.test(candidateHost) ? candidateHost : fallbackHost;
  const prefix = firstValue(headers['x-forwarded-prefix']);
  const safePrefix = prefix && /^\/[A-Za-z0-9._~\-/]*$/.test(prefix) ? prefix.replace(/\/+$/, '') : '';
  return `${protocol}://${host}${safePrefix}`;
}
