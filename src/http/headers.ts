// Header maps: one plain object per request/response, lowercase names, with the
// HTTP/2 pseudo headers (':method', ':path', ':authority', ':scheme', ':status')
// present for both HTTP/1.1 and HTTP/2 streams. The same shape node:http2 uses,
// so HTTP/2 headers pass through without conversion.
export type HeaderValue = string | string[];
export type Headers = Record<string, HeaderValue | undefined>;

/** First value of a header, or undefined. */
export function getHeader(h: Headers, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v[0];
}

/** All values joined with "," (Envoy's matcher semantics for multi-valued headers). */
export function getJoined(h: Headers, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}

export function appendHeader(h: Headers, name: string, value: string): void {
  const v = h[name];
  if (v === undefined) h[name] = value;
  else if (typeof v === 'string') h[name] = [v, value];
  else v.push(value);
}

/** Hop-by-hop headers stripped when proxying (RFC 9110 §7.6.1 plus Envoy's list). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings',
]);
