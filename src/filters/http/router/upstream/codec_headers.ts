// Header conversions between remora's Headers (lowercase, pseudo headers) and
// what the upstream clients take and give. One container per request/response.
import type { Headers, HeaderValue } from '../../../../http/headers';

/** Request headers never forwarded upstream (connection-specific, RFC 9110 §7.6.1, plus Expect which the HCM answers). */
function isRequestHopByHop(name: string): boolean {
  switch (name) {
    case 'connection': case 'keep-alive': case 'proxy-connection': case 'transfer-encoding':
    case 'upgrade': case 'te': case 'trailer': case 'http2-settings': case 'host': case 'expect':
      return true;
    default:
      return false;
  }
}

/** Extra hop-by-hop names listed in a Connection header (rare; only parsed when present and unusual). */
function connectionTokens(h: Headers): string[] | undefined {
  const c = h['connection'];
  if (c === undefined) return undefined;
  const v = (typeof c === 'string' ? c : c.join(',')).toLowerCase();
  if (v === 'keep-alive' || v === 'close' || v === 'upgrade' || v === '') return undefined;
  const out: string[] = [];
  for (const t of v.split(',')) {
    const n = t.trim();
    if (n && n !== 'keep-alive' && n !== 'close' && n !== 'upgrade') out.push(n);
  }
  return out.length ? out : undefined;
}

function teTrailers(v: HeaderValue | undefined): boolean {
  if (v === undefined) return false;
  const s = typeof v === 'string' ? v : v.join(',');
  return s.toLowerCase().includes('trailers');
}

/** The authority to send: ':authority', else 'host'. */
export function authorityOf(h: Headers): string {
  const a = h[':authority'] ?? h['host'];
  if (a === undefined) return '';
  return typeof a === 'string' ? a : a[0];
}

/**
 * HTTP/1.1 (undici): a flat [name, value, ...] array without pseudo and hop-by-hop
 * headers, starting with host. Returns the array.
 */
export function toH1HeaderArray(h: Headers): Array<string | string[]> {
  const out: Array<string | string[]> = ['host', authorityOf(h)];
  const extra = connectionTokens(h);
  for (const k in h) {
    const v = h[k];
    if (v === undefined || k.charCodeAt(0) === 58 /* : */ || isRequestHopByHop(k)) continue;
    if (extra !== undefined && extra.includes(k)) continue;
    out.push(k, v);
  }
  if (teTrailers(h['te'])) out.push('te', 'trailers');
  return out;
}

/** HTTP/2 (node:http2): a fresh object with the pseudo headers first and no connection-specific headers. */
export function toH2Headers(h: Headers): Record<string, string | string[]> {
  const method = first(h[':method']) || 'GET';
  const out: Record<string, string | string[]> = {
    ':method': method,
    ':scheme': first(h[':scheme']) || 'http',
    ':authority': authorityOf(h),
    ':path': first(h[':path']) || '/',
  };
  const extra = connectionTokens(h);
  for (const k in h) {
    const v = h[k];
    if (v === undefined || k.charCodeAt(0) === 58 || isRequestHopByHop(k)) continue;
    if (extra !== undefined && extra.includes(k)) continue;
    out[k] = v;
  }
  if (teTrailers(h['te'])) out['te'] = 'trailers';
  return out;
}

function first(v: HeaderValue | undefined): string {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : v[0];
}

const STATUS_STRINGS: string[] = [];
for (let i = 100; i < 600; i++) STATUS_STRINGS[i] = String(i);
export function statusString(code: number): string {
  return STATUS_STRINGS[code] ?? String(code);
}

/** Response headers never forwarded downstream. `upgrade`/`connection` are kept for 101. */
function isResponseHopByHop(name: string, upgrade: boolean): boolean {
  switch (name) {
    case 'keep-alive': case 'proxy-connection': case 'transfer-encoding': case 'te': case 'trailer': case 'http2-settings':
      return true;
    case 'connection': case 'upgrade':
      return !upgrade;
    default:
      return false;
  }
}

/** undici raw headers (Buffer name/value pairs) to Headers with ':status'. */
export function fromRawHeaders(status: number, raw: Buffer[] | string[] | null, upgrade: boolean): Headers {
  const h: Headers = { ':status': statusString(status) };
  if (raw === null) return h;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase();
    if (isResponseHopByHop(name, upgrade)) continue;
    const value = raw[i + 1].toString('latin1');
    const prev = h[name];
    if (prev === undefined) h[name] = value;
    else if (typeof prev === 'string') h[name] = [prev, value];
    else prev.push(value);
  }
  return h;
}

/** undici raw trailers to Headers, or undefined when none. */
export function fromRawTrailers(raw: Buffer[] | string[] | null | undefined): Headers | undefined {
  if (!raw || raw.length < 2) return undefined;
  const h: Headers = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase();
    const value = raw[i + 1].toString('latin1');
    const prev = h[name];
    if (prev === undefined) h[name] = value;
    else if (typeof prev === 'string') h[name] = [prev, value];
    else prev.push(value);
  }
  return h;
}

/**
 * node:http2 response headers: normalise ':status' to a string and drop
 * connection-specific names in place (node hands us a fresh object).
 */
export function fromH2Headers(h: Record<string, unknown>): Headers {
  const s = h[':status'];
  if (typeof s === 'number') h[':status'] = statusString(s);
  return h as Headers;
}
