// Pure request-rewrite helpers the router filter calls after a match: :path rewrite
// (prefix_rewrite / regex_rewrite), :authority rewrite (host_rewrite_*), and the
// Location of redirects, following Envoy's RouteEntryImplBase and Http::Utility::newUri.
import type { Headers } from '../http/headers';
import { applyRegexRewrite } from './regex';
import type { CompiledRoute, RouteMatchResult, RouteRequest } from './route_config';

/** Length of the path without its query string and fragment (Envoy's removeQueryAndFragment). */
export function pathWithoutQueryLength(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

/**
 * The new :path for a forwarded request (route prefix_rewrite or regex_rewrite; the
 * query string is kept), or null when the route rewrites nothing. The router filter
 * sets x-envoy-original-path to the old value when it applies the result.
 */
export function rewritePath(match: RouteMatchResult | CompiledRoute, path: string): string | null {
  const r = 'route' in match ? match.route : match;
  if (r.redirect !== null) return redirectPathRewrite(r, path);
  if (r.prefixRewrite) {
    const n = r.matchedPathLength(path);
    return r.prefixRewrite + path.slice(n);
  }
  if (r.regexRewrite !== null) {
    const end = pathWithoutQueryLength(path);
    return applyRegexRewrite(r.regexRewrite, path.slice(0, end)) + path.slice(end);
  }
  return null;
}

/** Envoy's getPathRewrite + currentUrlPathAfterRewriteWithMatchedPath for redirect routes. */
function redirectPathRewrite(r: CompiledRoute, path: string): string | null {
  const rd = r.redirect;
  if (rd === null) return null;
  const isRedirect = rd.hostRedirect !== '' || rd.pathRedirect !== '' || rd.prefixRewrite !== '' || rd.regexRewrite !== null;
  if (!isRedirect) return null;
  if (rd.regexRewrite !== null) {
    const end = pathWithoutQueryLength(path);
    const rewritten = applyRegexRewrite(rd.regexRewrite, path.slice(0, end));
    if (rewritten === '') return null;
    return rewritten + path.slice(end);
  }
  if (rd.prefixRewrite === '') return null;
  return rd.prefixRewrite + path.slice(r.matchedPathLength(path));
}

function first(h: Headers, name: string): string {
  const v = h[name];
  if (v === undefined) return '';
  return typeof v === 'string' ? v : v.length > 0 ? v[0] : '';
}

/**
 * The new :authority, or null to keep it: the route's host_rewrite_literal /
 * host_rewrite_header (first value, when present and non-empty) / host_rewrite_path_regex
 * (applied to the path without query), else the weighted cluster's host_rewrite_literal.
 * Call after the request header mutations (Envoy evaluates host_rewrite_header then).
 * auto_host_rewrite is the router's job (route.autoHostRewrite), once a host is chosen.
 */
export function rewriteHost(match: RouteMatchResult, headers: Headers, path: string): string | null {
  const r = match.route;
  let h = '';
  if (r.hostRewriteLiteral) h = r.hostRewriteLiteral;
  else if (r.hostRewriteHeader) h = first(headers, r.hostRewriteHeader);
  else if (r.hostRewritePathRegex !== null) h = applyRegexRewrite(r.hostRewritePathRegex, path.slice(0, pathWithoutQueryLength(path)));
  if (h) return h;
  return match.clusterHostRewriteLiteral || null;
}

/** Envoy's processRequestHost: drop the port when redirecting to another port or to the scheme's default. */
function processRequestHost(host: string, forwardedProto: string, newScheme: string, newPort: string): string {
  if (host.length === 0) return host;
  let hostEnd: number;
  if (host.charCodeAt(0) === 91 /* [ */) {
    hostEnd = host.lastIndexOf(']:');
    if (hostEnd >= 0) hostEnd += 1;
  } else {
    hostEnd = host.lastIndexOf(':');
  }
  if (hostEnd >= 0) {
    const port = host.slice(hostEnd);
    let remove = newPort !== '';
    if (newScheme !== forwardedProto) {
      remove = remove || (forwardedProto === 'https' && port === ':443');
      remove = remove || (forwardedProto === 'http' && port === ':80');
    }
    if (remove) return host.slice(0, hostEnd);
  }
  return host;
}

function schemeOf(req: RouteRequest): string {
  if (req.scheme) return req.scheme;
  const s = first(req.headers, ':scheme');
  return s || 'http';
}

/**
 * The Location header for a redirect route, a require_tls redirect, or a 201/3xx
 * direct response (Envoy adds Location = the request URL to those). Scheme comes from
 * scheme_redirect / https_redirect, else the request's :scheme; x-forwarded-proto
 * (falling back to the request scheme) decides default-port stripping.
 */
export function redirectLocation(match: RouteMatchResult, req: RouteRequest): string {
  const r = match.route;
  if (r.sslRedirect) return `https://${req.authority}${req.path}`;
  const rd = r.redirect;
  let path = req.path;
  if (rd !== null) {
    const np = redirectPathRewrite(r, path);
    if (np !== null) path = np;
  }
  const scheme = rd !== null && rd.schemeRedirect ? rd.schemeRedirect : rd !== null && rd.httpsRedirect ? 'https' : schemeOf(req);
  const port = rd !== null ? rd.portRedirect : '';
  const xfp = first(req.headers, 'x-forwarded-proto') || schemeOf(req);
  const host = rd !== null && rd.hostRedirect ? rd.hostRedirect : processRequestHost(req.authority, xfp, scheme, port);
  let finalPath: string;
  if (rd !== null && rd.pathRedirect) {
    if (rd.pathRedirectHasQuery) finalPath = rd.pathRedirect;
    else {
      const q = path.indexOf('?');
      finalPath = q >= 0 ? rd.pathRedirect + path.slice(q) : rd.pathRedirect;
    }
  } else {
    finalPath = path;
  }
  if (!finalPath.startsWith('/')) finalPath = '/' + finalPath;
  if (rd !== null && !rd.pathRedirectHasQuery && rd.stripQuery) {
    const q = finalPath.indexOf('?');
    if (q >= 0) finalPath = finalPath.slice(0, q);
  }
  return `${scheme}://${host}${port}${finalPath}`;
}

/** Whether Envoy adds a Location header to this local response (201 or 3xx). */
export function addsLocation(status: number): boolean {
  return status === 201 || (status >= 300 && status < 400);
}
