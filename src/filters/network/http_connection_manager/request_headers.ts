// Envoy's ConnectionManagerUtility::mutateRequestHeaders (+ mutateXfccRequestHeader):
// hop-by-hop stripping, X-Forwarded-For / -Proto, internal vs. external requests,
// x-envoy-* sanitizing, x-request-id, user agent, via, XFCC.
import { randomUUID, createHash } from 'node:crypto';
import type { TLSSocket, PeerCertificate, DetailedPeerCertificate } from 'node:tls';
import { getHeader, getJoined, type Headers } from '../../../http/headers';
import { appendXff, isDefaultInternalAddress, lastAddressFromXff, sanitizeTe } from '../../../http/header_utility';
import { isLoopback, parseIp, type IpAddress } from '../../../common/cidr';
import { ForwardClientCert, type HcmConfig } from './config';
import type { ActiveStream } from './active_stream';

/** Headers removed from requests that are not internal (Envoy's cleanInternalHeaders). */
const NON_INTERNAL_STRIP = [
  'x-envoy-retriable-status-codes', 'x-envoy-retriable-header-names', 'x-envoy-retry-on', 'x-envoy-retry-grpc-on',
  'x-envoy-max-retries', 'x-envoy-upstream-alt-stat-name', 'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-upstream-rq-timeout-alt-response', 'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace', 'x-envoy-ip-tags', 'x-envoy-original-url', 'x-envoy-hedge-on-per-try-timeout',
];
/** Additionally removed from edge requests. */
const EDGE_STRIP = ['x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node'];

function isInternal(cfg: HcmConfig, ip: IpAddress): boolean {
  const cidrs = cfg.internalCidrs;
  if (cidrs === null) return isDefaultInternalAddress(ip);
  for (let i = 0; i < cidrs.length; i++) if (cidrs[i].contains(ip)) return true;
  return false;
}

/**
 * Mutate the request headers in place. `keepUpgrade`: an HTTP/1.1 Upgrade request (connection
 * and upgrade headers are forwarded). Returns the trusted downstream address (XFF-derived).
 */
export function mutateRequestHeaders(s: ActiveStream, h: Headers, keepUpgrade: boolean): string {
  const cfg = s.cfg;
  const hc = s.hc;
  const ci = hc.conn.info;
  if (!keepUpgrade) {
    if (h['connection'] !== undefined) delete h['connection'];
    if (h['upgrade'] !== undefined) delete h['upgrade'];
    if (h['te'] !== undefined) sanitizeTe(h);
  }
  if (h['x-envoy-internal'] !== undefined) delete h['x-envoy-internal'];
  if (h['keep-alive'] !== undefined) delete h['keep-alive'];
  if (h['proxy-connection'] !== undefined) delete h['proxy-connection'];
  if (h['transfer-encoding'] !== undefined) delete h['transfer-encoding'];
  if (h['expect'] !== undefined) delete h['expect']; // 100-continue was answered locally

  const tls = ci.tls;
  const remoteIp = hc.remoteIp;
  let finalIp: IpAddress | null = null;
  let finalAddr = '';
  let single: boolean;
  const hops = cfg.xffNumTrustedHops;
  if (cfg.useRemoteAddress) {
    single = h['x-forwarded-for'] === undefined;
    if (hops > 0) {
      const r = lastAddressFromXff(h, hops - 1);
      if (r.ip !== null) { finalIp = r.ip; finalAddr = r.address; }
    }
    if (finalIp === null) { finalIp = remoteIp; finalAddr = ci.remoteAddress; }
    if (!cfg.skipXffAppend) {
      if (remoteIp !== null && isLoopback(remoteIp)) appendXff(h, cfg.localAddress);
      else appendXff(h, cfg.ipv4MappedXff && remoteIp !== null && remoteIp.family === 4 ? '::ffff:' + ci.remoteAddress : ci.remoteAddress);
    }
    if (hops === 0 || h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = tls ? 'https' : 'http';
  } else {
    const r = lastAddressFromXff(h, hops);
    if (r.ip !== null) { finalIp = r.ip; finalAddr = r.address; }
    single = r.single;
  }
  if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = tls ? 'https' : 'http';
  if (cfg.appendXForwardedPort && (hops === 0 || h['x-forwarded-port'] === undefined)) h['x-forwarded-port'] = String(ci.localPort);
  if (s.isH1 && h[':scheme'] === undefined) {
    const xfp = getHeader(h, 'x-forwarded-proto');
    h[':scheme'] = xfp === 'http' || xfp === 'https' ? xfp : tls ? 'https' : 'http';
  }
  if (cfg.schemeToOverwrite !== '') h[':scheme'] = cfg.schemeToOverwrite;

  const internal = single && finalIp !== null && isInternal(cfg, finalIp);
  if (finalIp === null) { finalIp = remoteIp; finalAddr = ci.remoteAddress; }
  const edge = !internal && cfg.useRemoteAddress;
  if (internal) {
    h['x-envoy-internal'] = 'true';
  } else {
    if (edge) for (let i = 0; i < EDGE_STRIP.length; i++) if (h[EDGE_STRIP[i]] !== undefined) delete h[EDGE_STRIP[i]];
    for (let i = 0; i < NON_INTERNAL_STRIP.length; i++) if (h[NON_INTERNAL_STRIP[i]] !== undefined) delete h[NON_INTERNAL_STRIP[i]];
    const rt = s.routeTable;
    if (rt !== null) {
      const io = rt.internalOnlyHeaders;
      for (let i = 0; i < io.length; i++) if (h[io[i]] !== undefined) delete h[io[i]];
    }
  }
  if (cfg.addUserAgent && cfg.serviceCluster !== '') {
    h['x-envoy-downstream-service-cluster'] = cfg.serviceCluster;
    if (getHeader(h, 'user-agent') === undefined || getHeader(h, 'user-agent') === '') h['user-agent'] = cfg.serviceCluster;
    if (cfg.serviceNode !== '') h['x-envoy-downstream-service-node'] = cfg.serviceNode;
  }
  if (cfg.via !== '') {
    const v = getJoined(h, 'via');
    h['via'] = v === undefined || v === '' ? cfg.via : v + ', ' + cfg.via;
  }
  if (edge && finalIp !== null) h['x-envoy-external-address'] = finalAddr;
  if (cfg.generateRequestId) {
    if (h['x-request-id'] === undefined || (edge && !cfg.preserveExternalRequestId)) h['x-request-id'] = randomUUID();
  }
  mutateXfcc(cfg, h, s);
  return finalAddr;
}

function mutateXfcc(cfg: HcmConfig, h: Headers, s: ActiveStream): void {
  const mode = cfg.forwardClientCert;
  if (mode === ForwardClientCert.AlwaysForwardOnly) return;
  const sock = s.hc.conn.socket as Partial<TLSSocket>;
  let peer: DetailedPeerCertificate | null = null;
  if (s.hc.conn.info.tls && mode !== ForwardClientCert.Sanitize && typeof sock.getPeerCertificate === 'function') {
    try {
      const p = sock.getPeerCertificate(cfg.clientCertDetails.chain);
      if (p && p.raw) peer = p as DetailedPeerCertificate;
    } catch { peer = null; }
  }
  if (mode === ForwardClientCert.Sanitize || peer === null) {
    if (h['x-forwarded-client-cert'] !== undefined) delete h['x-forwarded-client-cert'];
    return;
  }
  if (mode === ForwardClientCert.ForwardOnly) return;
  const parts: string[] = [];
  let local: PeerCertificate | null = null;
  try { local = typeof sock.getCertificate === 'function' ? (sock.getCertificate() as PeerCertificate | null) : null; } catch { local = null; }
  const localUri = local ? firstSan(local.subjectaltname, 'URI:') : '';
  if (localUri !== '') parts.push('By=' + localUri);
  parts.push('Hash=' + createHash('sha256').update(peer.raw).digest('hex'));
  const d = cfg.clientCertDetails;
  if (d.cert) parts.push('Cert="' + encodeURIComponent(toPem(peer.raw)) + '"');
  if (d.chain) {
    let chain = '';
    let c: DetailedPeerCertificate | undefined = peer;
    for (let i = 0; c && c.raw && i < 16; i++) {
      chain += toPem(c.raw);
      if (c.issuerCertificate === c) break;
      c = c.issuerCertificate;
    }
    parts.push('Chain="' + encodeURIComponent(chain) + '"');
  }
  if (d.subject) parts.push('Subject="' + subjectString(peer.subject as unknown as Record<string, string | string[]>) + '"');
  if (d.uri) parts.push('URI=' + firstSan(peer.subjectaltname, 'URI:'));
  if (d.dns) for (const dns of allSans(peer.subjectaltname, 'DNS:')) parts.push('DNS=' + dns);
  const value = parts.join(';');
  if (mode === ForwardClientCert.AppendForward) {
    const cur = getJoined(h, 'x-forwarded-client-cert');
    h['x-forwarded-client-cert'] = cur === undefined || cur === '' ? value : cur + ',' + value;
  } else {
    h['x-forwarded-client-cert'] = value;
  }
}

function toPem(raw: Buffer): string {
  const b64 = raw.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return '-----BEGIN CERTIFICATE-----\n' + body + '-----END CERTIFICATE-----\n';
}

function allSans(san: string | undefined, prefix: string): string[] {
  if (!san) return [];
  const out: string[] = [];
  for (const part of san.split(',')) {
    const t = part.trim();
    if (t.startsWith(prefix)) out.push(t.slice(prefix.length));
  }
  return out;
}

function firstSan(san: string | undefined, prefix: string): string {
  const a = allSans(san, prefix);
  return a.length > 0 ? a[0] : '';
}

/** RFC 2253 order (most specific first), as Envoy prints subjects. */
function subjectString(subj: Record<string, string | string[]> | undefined): string {
  if (!subj) return '';
  const rdns: string[] = [];
  for (const k of Object.keys(subj)) {
    const v = subj[k];
    if (Array.isArray(v)) for (const x of v) rdns.push(k + '=' + x); else rdns.push(k + '=' + v);
  }
  return rdns.reverse().join(',');
}

/** Parse the connection's remote address once. */
export function parseRemoteIp(addr: string): IpAddress | null {
  return addr ? parseIp(addr) : null;
}
