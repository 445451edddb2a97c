// /listeners, /drain_listeners (source/server/admin/listeners_handler.cc).
import type { AdminProviders, ListenerAddress, ListenerInfo, UrlHandler } from './types';
import { json, text } from './types';

/** Network::Address::Instance::asString. */
export function addressString(a: ListenerAddress): string {
  if (typeof a === 'string') return a;
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** envoy.config.core.v3.Address in proto-JSON form. */
function protoAddress(a: ListenerAddress): object {
  if (typeof a !== 'string') return { socket_address: { address: a.address, port_value: a.port } };
  const m = /^\[([^\]]*)\]:(\d+)$/.exec(a) ?? /^([^:\[\]]+):(\d+)$/.exec(a);
  if (m) return { socket_address: { address: m[1], port_value: Number(m[2]) } };
  return { pipe: { path: a } };
}

function listenerStatus(l: ListenerInfo): object {
  const s: Record<string, unknown> = { name: l.name, local_address: protoAddress(l.localAddress) };
  if (l.additionalLocalAddresses && l.additionalLocalAddresses.length > 0) {
    s.additional_local_addresses = l.additionalLocalAddresses.map(protoAddress);
  }
  return s;
}

export function listenersHandlers(p: AdminProviders): UrlHandler[] {
  return [
    {
      prefix: '/listeners', help: 'print listener info', mutatesState: false,
      params: [{ id: 'format', help: 'File format to use', enumChoices: ['text', 'json'] }],
      handler: (ctx) => {
        const ls = p.listeners();
        if (ctx.query.nonEmpty('format') === 'json') {
          return json(ls.length === 0 ? {} : { listener_statuses: ls.map(listenerStatus) });
        }
        let out = '';
        for (const l of ls) {
          out += `${l.name}::${addressString(l.localAddress)}\n`;
          for (const a of l.additionalLocalAddresses ?? []) out += `${l.name}::${addressString(a)}\n`;
        }
        return text(out);
      },
    },
    {
      prefix: '/drain_listeners', help: 'drain listeners', mutatesState: true,
      params: [
        { id: 'graceful', help: 'When draining listeners, enter a graceful drain period prior to closing listeners. This behaviour and duration is configurable via server options or CLI' },
        { id: 'skip_exit', help: 'When draining listeners, do not exit after the drain period. This must be used with graceful' },
        { id: 'inboundonly', help: 'Drains all inbound listeners. traffic_direction field in envoy_v3_api_msg_config.listener.v3.Listener is used to determine whether a listener is inbound or outbound.' },
      ],
      handler: (ctx) => {
        const inboundOnly = ctx.query.has('inboundonly');
        const graceful = ctx.query.has('graceful');
        const skipExit = ctx.query.has('skip_exit');
        if (skipExit && !graceful) return text('skip_exit requires graceful\n', 400);
        p.drainListeners({ inboundOnly, graceful, skipExit });
        return text('OK\n');
      },
    },
  ];
}
