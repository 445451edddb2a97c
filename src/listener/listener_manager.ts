// The listener manager: adds, updates and removes listeners (static bootstrap
// listeners now, LDS later), drains what an update replaces, and answers the
// admin endpoints (/listeners, /drain_listeners).
//
// Update rules (Envoy's):
//  - identical config: nothing happens;
//  - same bound sockets and only filter_chains/default_filter_chain changed: an in-place
//    filter chain update. Unchanged chains keep their connections; removed or changed
//    chains drain (listener_in_place_updated);
//  - same bound sockets, other listener fields changed: the sockets are kept, every chain
//    is rebuilt and all old connections drain;
//  - different address / bind_to_port: the new listener binds first (an update that cannot
//    bind is rejected and the old listener keeps running), then the old one stops accepting
//    and drains.
// Draining = connections see draining() / onDrain (HCM answers with Connection: close or
// GOAWAY); what is still open after the drain time is closed.
import { ConfigError } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Counter, Gauge } from '../stats/stats';
import { CompiledListener, FilterChainImpl, ListenerContext, ListenerImpl, compileListener, listenerKeyOf } from './listener';
import { stableStringify } from './stable';

export { ListenerBindError } from './listener';
export type { ListenerContext } from './listener';

export interface ListenerManagerOptions {
  /** false (validate mode): compile and validate only, never bind. Default true. */
  bind?: boolean;
}

export interface AddOrUpdateOptions {
  versionInfo?: string;
  addedViaApi?: boolean;
}

/** One entry of listeners(): what admin /listeners and /config_dump show. */
export interface ListenerStatus {
  name: string;
  /** Envoy text form of the (bound) address: "0.0.0.0:15001", "[::]:15001", or a pipe path. */
  localAddress: string;
  additionalLocalAddresses: string[];
  /** The first bound TCP port (0 when not bound). */
  port: number;
  config: Plain;
  versionInfo: string;
  lastUpdated: number;
  addedViaApi: boolean;
  trafficDirection: string;
}

export interface DrainOptions {
  /** Drain for the drain time (connections see draining()), then stop listening and close what is left. Else stop listening now. */
  graceful?: boolean;
  /** Only listeners with traffic_direction INBOUND. */
  inboundOnly?: boolean;
}

interface ManagerStats {
  listener_added: Counter;
  listener_modified: Counter;
  listener_removed: Counter;
  listener_stopped: Counter;
  listener_create_success: Counter;
  listener_create_failure: Counter;
  listener_in_place_updated: Counter;
  total_listeners_active: Gauge;
  total_listeners_draining: Gauge;
  total_listeners_warming: Gauge;
  total_filter_chains_draining: Gauge;
}

export class ListenerManager {
  private readonly active = new Map<string, ListenerImpl>();
  private readonly draining = new Set<ListenerImpl>();
  private readonly stats: ManagerStats;
  private readonly bindEnabled: boolean;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private unnamed = 0;
  private drainPromise: Promise<void> | undefined;

  constructor(private readonly ctx: ListenerContext, opts: ListenerManagerOptions = {}) {
    this.bindEnabled = opts.bind !== false;
    const s = ctx.stats.scope('listener_manager.');
    this.stats = {
      listener_added: s.counter('listener_added'),
      listener_modified: s.counter('listener_modified'),
      listener_removed: s.counter('listener_removed'),
      listener_stopped: s.counter('listener_stopped'),
      listener_create_success: s.counter('listener_create_success'),
      listener_create_failure: s.counter('listener_create_failure'),
      listener_in_place_updated: s.counter('listener_in_place_updated'),
      total_listeners_active: s.gauge('total_listeners_active', 'NeverImport'),
      total_listeners_draining: s.gauge('total_listeners_draining', 'NeverImport'),
      total_listeners_warming: s.gauge('total_listeners_warming', 'NeverImport'),
      total_filter_chains_draining: s.gauge('total_filter_chains_draining', 'NeverImport'),
    };
  }

  /**
   * Validate only (no bind, no side effects): throws ConfigError with a path
   * relative to the listener. Filter factories built for the check are destroyed.
   */
  validate(config: Plain): void {
    const c = compileListener(config, this.ctx);
    for (const ch of c.chains) ch.destroy(this.ctx.log);
    c.defaultChain?.destroy(this.ctx.log);
    for (const lf of c.listenerFilters) lf.factory.destroy?.();
  }

  /**
   * Add a listener or update the one with the same name. Resolves true when something
   * changed, false for an identical config. Rejects with ConfigError (invalid config,
   * path relative to the listener) or ListenerBindError (cannot bind); on rejection the
   * previous listener, if any, is untouched. Calls are serialized.
   */
  addOrUpdate(config: Plain, opts: AddOrUpdateOptions = {}): Promise<boolean> {
    const run = () => this.doAddOrUpdate(config, opts);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async doAddOrUpdate(config: Plain, opts: AddOrUpdateOptions): Promise<boolean> {
    if (this.closed) throw new Error('listener manager is closed');
    if (!config || typeof config !== 'object') throw new ConfigError('', 'listener config must be an object');
    if (!config.name) config = { ...config, name: `remora-listener-${++this.unnamed}` };
    const name: string = config.name;
    const existing = this.active.get(name);
    const drainMs = this.ctx.drainTimeMs;

    if (existing) {
      const prev = existing.compiled;
      if (stableStringify(config) === prev.hash) return false;
      const inPlace = prev.listenerKey === listenerKeyOf(config);
      // Unchanged chains are reused only for an in-place update.
      const reuse = inPlace ? chainIndex(prev) : undefined;
      const next = compileListener(config, this.ctx, reuse);
      if (next.socketKey === prev.socketKey) {
        existing.swap(next, drainMs);
        existing.versionInfo = opts.versionInfo ?? existing.versionInfo;
        existing.lastUpdated = Date.now();
        this.stats.listener_modified.inc();
        if (inPlace) this.stats.listener_in_place_updated.inc();
        this.ctx.log.info(`listener '${name}' updated${inPlace ? ' in place' : ''}`);
        return true;
      }
      const replacement = this.newListener(next, opts);
      try {
        if (this.bindEnabled) await replacement.bind();
      } catch (e) {
        replacement.destroy();
        this.stats.listener_create_failure.inc();
        throw e;
      }
      if (this.closed) { replacement.destroy(); throw new Error('listener manager is closed'); }
      this.active.set(name, replacement);
      this.stats.listener_modified.inc();
      this.stats.listener_create_success.inc();
      this.drainListener(existing, drainMs);
      this.ctx.log.info(`listener '${name}' replaced (new address ${replacement.compiled.addresses[0].text})`);
      return true;
    }

    const compiled = compileListener(config, this.ctx);
    const l = this.newListener(compiled, opts);
    try {
      if (this.bindEnabled) await l.bind();
    } catch (e) {
      l.destroy();
      this.stats.listener_create_failure.inc();
      throw e;
    }
    if (this.closed) { l.destroy(); throw new Error('listener manager is closed'); }
    if (this.drainPromise && l.compiled.drainType !== 'MODIFY_ONLY') l.drainingAll = true;
    this.active.set(name, l);
    this.stats.listener_added.inc();
    this.stats.listener_create_success.inc();
    this.stats.total_listeners_active.set(this.active.size);
    this.ctx.log.info(`listener '${name}' added on ${this.bindEnabled ? l.boundAddresses.join(',') || compiled.addresses[0].text : compiled.addresses[0].text}`);
    return true;
  }

  private newListener(compiled: CompiledListener, opts: AddOrUpdateOptions): ListenerImpl {
    const l = new ListenerImpl(compiled, this.ctx, {
      onChainDrainStart: () => this.stats.total_filter_chains_draining.inc(),
      onChainDrained: () => this.stats.total_filter_chains_draining.dec(),
    });
    l.versionInfo = opts.versionInfo ?? '';
    l.addedViaApi = !!opts.addedViaApi;
    return l;
  }

  /** Remove a listener: stop accepting now, drain its connections. false when unknown. */
  remove(name: string): boolean {
    const l = this.active.get(name);
    if (!l) return false;
    this.active.delete(name);
    this.stats.listener_removed.inc();
    this.drainListener(l, this.ctx.drainTimeMs);
    this.ctx.log.info(`listener '${name}' removed`);
    return true;
  }

  private drainListener(l: ListenerImpl, drainMs: number): void {
    l.stopListening();
    this.draining.add(l);
    this.stats.total_listeners_active.set(this.active.size);
    this.stats.total_listeners_draining.set(this.draining.size);
    void l.drainAll(drainMs).then(() => {
      l.destroy();
      this.draining.delete(l);
      this.stats.total_listeners_draining.set(this.draining.size);
    });
  }

  /**
   * Admin /drain_listeners and server shutdown. graceful: connections are told to drain
   * and listeners keep accepting (new connections are born draining) for the drain time,
   * then the listeners stop and remaining connections are closed. Not graceful: stop
   * listening now. Listeners with drain_type MODIFY_ONLY are left alone.
   */
  drainAll(opts: DrainOptions = {}): Promise<void> {
    const chosen = [...this.active.values()].filter((l) =>
      l.compiled.drainType !== 'MODIFY_ONLY' && (!opts.inboundOnly || l.compiled.trafficDirection === 'INBOUND'));
    if (!opts.graceful) {
      for (const l of chosen) {
        if (l.servers.length) this.stats.listener_stopped.inc();
        l.stopListening();
      }
      return Promise.resolve();
    }
    const drainMs = this.ctx.drainTimeMs;
    const p = Promise.all(chosen.map((l) => {
      const done = l.drainAll(drainMs);
      // Stop accepting at the end of the drain period, like Envoy.
      return new Promise<void>((resolve) => {
        const t = setTimeout(() => resolve(), drainMs);
        t.unref();
        void done.then(() => { /* connections may finish early; listeners stay up for the full period */ });
      }).then(() => {
        if (l.servers.length) this.stats.listener_stopped.inc();
        l.stopListening();
        l.destroyConnections();
      });
    })).then(() => undefined);
    if (!opts.inboundOnly) this.drainPromise = p;
    return p;
  }

  /**
   * Server shutdown (SIGTERM): stop accepting now, tell every connection to drain
   * (HTTP/1.1 `connection: close`, HTTP/2 GOAWAY, idle keep-alives closed), and resolve
   * as soon as all connections are gone, or after drainMs, closing what is left.
   */
  shutdown(drainMs: number = this.ctx.drainTimeMs): Promise<void> {
    const all = [...this.active.values(), ...this.draining];
    for (const l of all) {
      if (l.servers.length) this.stats.listener_stopped.inc();
      l.stopListening();
    }
    return Promise.all(all.map((l) => l.drainAll(drainMs))).then(() => undefined);
  }

  /** Stop accepting on every listener (connections continue). */
  stopListening(): void {
    for (const l of this.active.values()) {
      if (l.servers.length) this.stats.listener_stopped.inc();
      l.stopListening();
    }
  }

  /** Close everything now: listeners, connections, draining listeners, filter factories. */
  close(): void {
    this.closed = true;
    for (const l of this.active.values()) l.destroy();
    for (const l of this.draining) l.destroy();
    this.active.clear();
    this.draining.clear();
    this.stats.total_listeners_active.set(0);
    this.stats.total_listeners_draining.set(0);
  }

  /** Active listeners, for admin /listeners and /config_dump. */
  listeners(): ListenerStatus[] {
    const out: ListenerStatus[] = [];
    for (const l of this.active.values()) {
      const c = l.compiled;
      const addrs = l.boundAddresses.length ? l.boundAddresses : c.addresses.map((a) => a.text);
      out.push({
        name: l.name,
        localAddress: addrs[0],
        additionalLocalAddresses: addrs.slice(1),
        port: l.port,
        config: c.config,
        versionInfo: l.versionInfo,
        lastUpdated: l.lastUpdated,
        addedViaApi: l.addedViaApi,
        trafficDirection: c.trafficDirection,
      });
    }
    return out;
  }

  /** Listeners still draining after removal/replacement (config_dump dynamic_draining_listeners). */
  drainingListeners(): ListenerStatus[] {
    return [...this.draining].map((l) => ({
      name: l.name,
      localAddress: l.compiled.addresses[0].text,
      additionalLocalAddresses: l.compiled.addresses.slice(1).map((a) => a.text),
      port: 0,
      config: l.compiled.config,
      versionInfo: l.versionInfo,
      lastUpdated: l.lastUpdated,
      addedViaApi: l.addedViaApi,
      trafficDirection: l.compiled.trafficDirection,
    }));
  }

  /** The live listener object (tests, hand-off between listeners). */
  get(name: string): ListenerImpl | undefined { return this.active.get(name); }

  /** Names of the active listeners. */
  names(): string[] { return [...this.active.keys()]; }
}

function chainIndex(c: CompiledListener): Map<string, FilterChainImpl> {
  const m = new Map<string, FilterChainImpl>();
  for (const ch of c.chains) m.set(ch.key, ch);
  if (c.defaultChain) m.set(c.defaultChain.key, c.defaultChain);
  return m;
}
