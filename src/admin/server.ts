// Envoy's admin API as a node:http server (source/server/admin/admin.cc): a table of
// URL handlers matched on the exact path, POST enforced for handlers that mutate
// server state (405 "Method GET not allowed, POST required."), 404 with the help text
// for unknown paths, and Envoy's response headers. Nothing a client sends can make
// it throw: handler errors become a 500, malformed requests a 400.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../common/log';
import { QueryParams } from './query';
import type { AdminProviders, AdminResponse, AdminServer, UrlHandler } from './types';
import { TEXT_TYPE, text } from './types';
import { statsHandlers } from './stats_handler';
import { configDumpHandlers } from './config_dump_handler';
import { clustersHandlers } from './clusters_handler';
import { serverInfoHandlers } from './server_info_handler';
import { listenersHandlers } from './listeners_handler';
import { serverCmdHandlers } from './server_cmd_handler';
import { logsHandlers } from './logs_handler';
import { runtimeHandlers } from './runtime_handler';

export type { AdminProviders, AdminServer } from './types';

const log = createLogger('admin');

/** Largest POST body (form parameters) the admin server reads. */
const MAX_BODY_BYTES = 1 << 20;

/** AdminImpl::getHelp: handlers sorted by path, "(POST)" for mutating ones, then their params. */
export function helpText(handlers: readonly UrlHandler[]): string {
  let out = 'admin commands are:\n';
  const sorted = [...handlers].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  for (const h of sorted) {
    out += `  ${h.prefix}${h.mutatesState ? ' (POST)' : ''}: ${h.help}\n`;
    for (const p of h.params ?? []) {
      out += `      ${p.id}: ${p.help}`;
      if (p.enumChoices) out += `; One of (${p.enumChoices.join(', ')})`;
      out += '\n';
    }
  }
  return out;
}

/** Every admin endpoint for a provider set, in lookup order. */
export function buildHandlers(p: AdminProviders): UrlHandler[] {
  const handlers: UrlHandler[] = [];
  const help = () => text(helpText(handlers));
  handlers.push(
    { prefix: '/', help: 'Admin home page', mutatesState: false, handler: help },
    { prefix: '/help', help: 'print out list of admin commands', mutatesState: false, handler: help },
    ...clustersHandlers(p),
    ...configDumpHandlers(p),
    ...serverInfoHandlers(p),
    ...serverCmdHandlers(p),
    ...logsHandlers(p),
    ...statsHandlers(p),
    ...listenersHandlers(p),
    ...runtimeHandlers(p),
  );
  for (const [prefix, extra] of p.extraHandlers ?? []) {
    if (!prefix.startsWith('/') || /[&"'<>?:]/.test(prefix) || handlers.some((h) => h.prefix === prefix)) {
      log.error(`admin handler "${prefix}" rejected: invalid or duplicate path`);
      continue;
    }
    if (typeof extra === 'function') handlers.push({ prefix, help: '', mutatesState: false, raw: extra });
    else handlers.push({ prefix, help: extra.help ?? '', mutatesState: extra.mutatesState === true, raw: extra.handler });
  }
  return handlers;
}

function splitTarget(target: string): { path: string; query: string } {
  let t = target;
  if (!t.startsWith('/')) {
    // absolute-form request target: drop scheme and authority
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(t);
    t = m ? t.slice(m[0].length) : '/' + t;
    if (!t.startsWith('/')) t = '/' + t;
  }
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  const q = t.indexOf('?');
  return q < 0 ? { path: t, query: '' } : { path: t.slice(0, q), query: t.slice(q + 1) };
}

function send(res: http.ServerResponse, r: AdminResponse): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(r.body, 'utf8');
  res.writeHead(r.status, {
    'content-type': r.contentType ?? TEXT_TYPE,
    'content-length': body.length,
    'cache-control': 'no-cache, max-age=0',
    'x-content-type-options': 'nosniff',
  });
  if (r.after) {
    const after = r.after;
    res.once('finish', () => setImmediate(() => {
      try { after(); } catch (e) { log.error(`admin: post-response action failed: ${(e as Error)?.message ?? e}`); }
    }));
  }
  res.end(body);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: string | undefined) => { if (!done) { done = true; resolve(v); } };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { finish(undefined); req.resume(); return; }
      if (!done) chunks.push(c);
    });
    req.on('end', () => finish(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => finish(undefined));
    req.on('close', () => finish(done ? undefined : Buffer.concat(chunks).toString('utf8')));
  });
}

async function handle(handlers: readonly UrlHandler[], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const { path, query } = splitTarget(req.url ?? '/');
  const h = handlers.find((x) => x.prefix === path);
  if (!h) {
    req.resume();
    send(res, text('invalid path. ' + helpText(handlers), 404));
    return;
  }
  if (h.mutatesState && method !== 'POST') {
    log.error(`admin path "${h.prefix}" mutates state, method=${method} rather than POST`);
    req.resume();
    send(res, text(`Method ${method} not allowed, POST required.`, 405));
    return;
  }
  if (h.raw) {
    h.raw(req, res);
    return;
  }
  const params = QueryParams.parse(query);
  if (method === 'POST') {
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      send(res, text('request body too large\n', 413));
      return;
    }
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    if (ct.startsWith('application/x-www-form-urlencoded')) params.addEncoded(body.replace(/\r?\n$/, ''));
  } else {
    req.resume();
  }
  send(res, h.handler!({ method, path, query: params }));
}

/** Start the admin HTTP server on addr (port 0 picks a free port). */
export function startAdmin(addr: { address: string; port: number }, p: AdminProviders): Promise<AdminServer> {
  const handlers = buildHandlers(p);
  const server = http.createServer((req, res) => {
    handle(handlers, req, res).catch((e) => {
      log.error(`admin: ${req.method} ${req.url} failed: ${(e as Error)?.stack ?? e}`);
      if (!res.headersSent) send(res, text(`error: ${(e as Error)?.message ?? e}\n`, 500));
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen({ host: addr.address, port: addr.port }, () => {
      server.off('error', onError);
      server.on('error', (e) => log.error(`admin server error: ${e.message}`));
      const a = server.address() as AddressInfo;
      let closed: Promise<void> | undefined;
      resolve({
        address: a.address,
        port: a.port,
        close: () => closed ??= new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
      });
    });
  });
}
