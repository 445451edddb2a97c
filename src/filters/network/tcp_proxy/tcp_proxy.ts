// The tcp_proxy session: one per downstream connection. Picks a cluster (weighted
// at random), a host from the cluster's load balancer, connects (connect timeout =
// cluster connect_timeout, up to max_connect_attempts), then relays bytes both ways
// with half-close until either side is done. Failures are values: a response flag
// on the connection's StreamInfo (NC, UO, UH, UF, URX), a counter, an access log line.
//
// Mirrors Envoy source/common/tcp_proxy/tcp_proxy.cc:
//  - downstream reads are held until the upstream is connected (Node keeps bytes in the
//    socket's buffer; listener-filter bytes in conn.initialData are replayed first);
//  - upstream closes -> downstream is closed after flushing (FlushWrite);
//  - downstream closes -> upstream closes after flushing what is queued (the
//    upstream_flush_* stats count upstreams that still had data to send);
//  - idle timeout (default 1h, 0 disables) closes both sides without flushing.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { RF } from '../../../common/response_flags';
import type { StreamInfo } from '../../../common/stream_info';
import type { Cluster, ClusterStats, Host, LoadBalancerContext, ResourceLimit } from '../../../cluster/types';
import type { Counter } from '../../../stats/stats';
import type { DownstreamConnection, TerminalNetworkFilter } from '../../../listener/types';
import { closeFlush } from '../../../listener/connection';
import type { TcpProxyConfig } from './config';
import type { Relay, RelayOwner } from './relay';

const enum State { Init = 0, Connecting = 1, Connected = 2, Closed = 3 }

const kSession = Symbol('remora.tcpProxySession');
type Tagged = net.Socket & { [kSession]?: TcpProxySession };

/** cluster.<name>.upstream_cx_connect_attempts_exceeded is not part of ClusterStats; resolved once per stats object. */
const attemptsExceeded = new WeakMap<ClusterStats, Counter>();
function connectAttemptsExceeded(stats: ClusterStats): Counter {
  let c = attemptsExceeded.get(stats);
  if (!c) { c = stats.scope.counter('upstream_cx_connect_attempts_exceeded'); attemptsExceeded.set(stats, c); }
  return c;
}

/** 64-bit FNV-1a of a string, for hash_policy (ring hash / maglev input). */
export function hashString(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i) & 0xff);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

function hostPort(address: string | undefined, port: number | undefined): string {
  if (!address) return '';
  return address.includes(':') ? `[${address}]:${port ?? 0}` : `${address}:${port ?? 0}`;
}

export class TcpProxySession implements TerminalNetworkFilter, RelayOwner {
  private conn!: DownstreamConnection;
  private down!: net.Socket;
  private si!: StreamInfo;
  private state = State.Init;
  private up: net.Socket | null = null;
  private cluster: Cluster | null = null;
  private host: Host | null = null;
  private clusterStats: ClusterStats | null = null;
  private cxLimit: ResourceLimit | null = null;
  private attempts = 0;
  private upConnecting = false;
  private upConnectedAt = 0;
  private upStartedAt = 0;
  private upLocalClose = false;
  private flushing = false;
  /** true once this session closed the downstream itself (vs. the peer closing it). */
  private downLocalClose = false;
  /** The session decided to end (no more connection attempts). */
  private terminating = false;
  private relay: Relay | null = null;
  private lastActivity = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private durationTimer: NodeJS.Timeout | undefined;
  private logTimer: NodeJS.Timeout | undefined;
  private lbContext: LoadBalancerContext | undefined;

  constructor(private readonly cfg: TcpProxyConfig) {}

  handleConnection(conn: DownstreamConnection): void {
    const cfg = this.cfg;
    this.conn = conn;
    this.down = conn.socket as net.Socket;
    this.si = conn.streamInfo;
    cfg.stats.downstream_cx_total.inc();
    // Half-close is forwarded, so the downstream must not end its write side on FIN.
    this.down.allowHalfOpen = true;
    conn.onClose(() => this.onDownstreamClosed());
    if (cfg.maxDownstreamConnectionDurationMs > 0) {
      this.durationTimer = setTimeout(onDurationTimer, cfg.maxDownstreamConnectionDurationMs, this);
    }
    if (cfg.idleTimeoutMs > 0) {
      this.lastActivity = performance.now();
      this.idleTimer = setTimeout(onIdleTimer, cfg.idleTimeoutMs, this);
    }
    const info = conn.info;
    const lb: LoadBalancerContext = {
      downstreamRemoteAddress: info.remoteAddress,
      originalDst: hostPort(info.localAddress, info.localPort),
    };
    const hp = cfg.hashPolicy;
    if (hp) {
      if (hp.kind === 'source_ip') {
        if (info.remoteAddress) lb.hashKey = hashString(info.remoteAddress);
      } else {
        const v = this.si.filterState?.get(hp.key);
        if (v !== undefined) lb.hashKey = hashString(typeof v === 'string' ? v : String(v));
      }
    }
    this.lbContext = lb;
    this.clusterNameForConnection = cfg.pickCluster();
    this.connect();
  }

  private clusterNameForConnection = '';

  /** One connection attempt, or the failure that ends the session. */
  private connect(): void {
    if (this.state === State.Closed || this.terminating) return;
    const cfg = this.cfg;
    const si = this.si;
    const cluster = cfg.clusterManager.get(this.clusterNameForConnection);
    if (!cluster) {
      cfg.stats.downstream_cx_no_route.inc();
      si.setFlag(RF.NoClusterFound);
      this.initFailure();
      return;
    }
    const info = cluster.info;
    this.cluster = cluster;
    this.clusterStats = info.stats;
    si.upstreamCluster = info.name;
    const cx = info.resourceManagers[0].connections;
    if (!cx.canCreate()) {
      si.setFlag(RF.UpstreamOverflow);
      info.stats.upstream_cx_overflow.inc();
      this.initFailure();
      return;
    }
    if (this.attempts >= cfg.maxConnectAttempts) {
      si.setFlag(RF.UpstreamRetryLimitExceeded);
      connectAttemptsExceeded(info.stats).inc();
      this.initFailure();
      return;
    }
    const host = cluster.chooseHost(this.lbContext);
    if (!host) {
      // The cluster counts upstream_cx_none_healthy.
      si.setFlag(RF.NoHealthyUpstream);
      this.initFailure();
      return;
    }
    const perHostMax = info.perHostMaxConnections ?? Infinity;
    if (host.stats.cx_active.value >= perHostMax) {
      si.setFlag(RF.UpstreamOverflow);
      info.stats.upstream_cx_overflow.inc();
      this.initFailure();
      return;
    }
    this.attempts++;
    si.attemptCount = this.attempts;
    this.host = host;
    si.upstreamHost = { address: host.key, hostname: host.hostname };

    const opts: net.NetConnectOpts = host.pipePath
      ? { path: host.pipePath, allowHalfOpen: true }
      : { host: host.address, port: host.port, allowHalfOpen: true, noDelay: true };
    const bind = info.config?.upstream_bind_config?.source_address;
    if (bind && bind.address && !host.pipePath) {
      (opts as net.TcpNetConnectOpts).localAddress = bind.address;
      if (bind.port_value) (opts as net.TcpNetConnectOpts).localPort = bind.port_value;
    }
    let up: net.Socket;
    try {
      up = net.connect(opts);
    } catch (e) {
      // Invalid address/options: a local connection failure.
      si.setFlag(RF.UpstreamConnectionFailure);
      info.stats.upstream_cx_connect_fail.inc();
      host.stats.cx_connect_fail.inc();
      this.cfg.log.debug(`tcp_proxy: cannot connect to ${host.key}: ${(e as Error).message}`);
      this.connect();
      return;
    }
    this.up = up;
    this.upConnecting = true;
    this.upLocalClose = false;
    this.upStartedAt = performance.now();
    this.state = State.Connecting;
    this.cxLimit = cx;
    cx.inc();
    info.stats.upstream_cx_total.inc();
    info.stats.upstream_cx_active.inc();
    host.stats.cx_total.inc();
    host.stats.cx_active.inc();
    (up as Tagged)[kSession] = this;
    up.on('connect', onUpConnect);
    up.on('error', onUpError);
    up.on('close', onUpClose);
    this.connectTimer = setTimeout(onConnectTimer, info.connectTimeoutMs, this);
  }

  /** Envoy onInitFailure: close the downstream without flushing. */
  private initFailure(): void {
    if (this.state === State.Closed) return;
    this.terminating = true;
    this.downLocalClose = true;
    this.conn.close('noflush');
  }

  /** @internal */
  onUpstreamConnected(): void {
    const up = this.up!;
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = undefined; }
    this.upConnecting = false;
    if (this.state === State.Closed) { this.upLocalClose = true; up.destroy(); return; }
    this.state = State.Connected;
    const now = performance.now();
    this.upConnectedAt = now;
    const cluster = this.cluster!;
    cluster.info.stats.upstream_cx_connect_ms.record(Math.round(now - this.upStartedAt));
    this.si.upstreamLocalAddress = hostPort(up.localAddress, up.localPort);
    this.relay = this.cfg.relayFactory(this.down, up, this, {
      downstreamLimit: this.conn.bufferLimitBytes,
      upstreamLimit: cluster.info.perConnectionBufferLimitBytes,
    });
    this.relay.start(this.conn.initialData);
    if (this.cfg.flushAccessLogOnConnected) this.emitAccessLogs();
    if (this.cfg.accessLogFlushIntervalMs > 0) {
      this.logTimer = setTimeout(onLogTimer, this.cfg.accessLogFlushIntervalMs, this);
    }
  }

  /** @internal connect timeout fired */
  onConnectTimeout(): void {
    this.connectTimer = undefined;
    const up = this.up;
    if (!up || !this.upConnecting) return;
    this.cluster!.info.stats.upstream_cx_connect_timeout.inc();
    this.si.setFlag(RF.UpstreamConnectionFailure);
    this.upLocalClose = true;
    up.destroy();
  }

  /** @internal upstream socket closed */
  onUpstreamClosed(): void {
    const up = this.up;
    if (!up) return;
    (up as Tagged)[kSession] = undefined;
    this.up = null;
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = undefined; }
    const cluster = this.cluster!;
    const stats = cluster.info.stats;
    const host = this.host!;
    const wasConnecting = this.upConnecting;
    this.upConnecting = false;
    stats.upstream_cx_active.dec();
    host.stats.cx_active.dec();
    this.cxLimit?.dec();
    this.cxLimit = null;
    stats.upstream_cx_destroy.inc();
    if (this.upLocalClose) stats.upstream_cx_destroy_local.inc(); else stats.upstream_cx_destroy_remote.inc();
    if (!wasConnecting) stats.upstream_cx_length_ms.record(Math.round(performance.now() - this.upConnectedAt));

    if (this.flushing) {
      this.flushing = false;
      this.cfg.stats.upstream_flush_active.dec();
      if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = undefined; }
      return;
    }
    if (wasConnecting) {
      if (this.state === State.Closed || this.terminating) return; // downstream went away while connecting
      stats.upstream_cx_connect_fail.inc();
      host.stats.cx_connect_fail.inc();
      this.si.setFlag(RF.UpstreamConnectionFailure);
      this.connect();
      return;
    }
    this.relay?.stop();
    this.relay = null;
    if (this.state !== State.Closed) {
      // Upstream gone: deliver what is queued downstream, then close (Envoy FlushWrite).
      this.terminating = true;
      this.downLocalClose = true;
      this.conn.close('flush');
    }
  }

  /** Downstream connection closed (DownstreamConnection.onClose). */
  private onDownstreamClosed(): void {
    const prev = this.state;
    this.state = State.Closed;
    if (this.durationTimer) { clearTimeout(this.durationTimer); this.durationTimer = undefined; }
    if (this.logTimer) { clearTimeout(this.logTimer); this.logTimer = undefined; }
    const up = this.up;
    if (this.relay) { this.relay.stop(); this.relay = null; }
    if (up && !up.destroyed) {
      if (prev === State.Connected && !this.downLocalClose && up.writableLength > 0) {
        // Peer closed with bytes still queued upstream: flush them, then close.
        this.flushing = true;
        this.cfg.stats.upstream_flush_total.inc();
        this.cfg.stats.upstream_flush_active.inc();
        up.on('data', onFlushData);
        up.resume();
        this.upLocalClose = true;
        closeFlush(up);
        if (this.cfg.idleTimeoutMs > 0) {
          this.lastActivity = performance.now();
          if (!this.idleTimer) this.idleTimer = setTimeout(onIdleTimer, this.cfg.idleTimeoutMs, this);
        }
      } else {
        this.upLocalClose = true;
        if (prev === State.Connected && !this.downLocalClose) closeFlush(up); else up.destroy();
      }
    }
    if (!this.flushing && this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = undefined; }
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = undefined; }
    this.emitAccessLogs();
  }

  /** @internal idle timer fired: re-arm unless idle for the whole period. */
  onIdleTimerFired(): void {
    this.idleTimer = undefined;
    const ms = this.cfg.idleTimeoutMs;
    const idle = performance.now() - this.lastActivity;
    if (idle + 1 < ms) {
      this.idleTimer = setTimeout(onIdleTimer, ms - idle, this);
      return;
    }
    this.cfg.stats.idle_timeout.inc();
    if (this.flushing) {
      this.up?.destroy();
      return;
    }
    this.terminating = true;
    this.downLocalClose = true;
    if (this.up) { this.upLocalClose = true; this.up.destroy(); }
    this.conn.close('noflush');
  }

  /** @internal */
  onMaxDurationReached(): void {
    this.durationTimer = undefined;
    if (this.state === State.Closed) return;
    this.cfg.stats.max_downstream_connection_duration.inc();
    this.terminating = true;
    this.downLocalClose = true;
    if (this.up) { this.upLocalClose = true; this.up.destroy(); }
    this.conn.close('noflush');
  }

  /** @internal periodic access log */
  onLogTimerFired(): void {
    this.logTimer = undefined;
    if (this.state !== State.Connected) return;
    this.emitAccessLogs();
    this.logTimer = setTimeout(onLogTimer, this.cfg.accessLogFlushIntervalMs, this);
  }

  /** @internal the upstream sent data while only being flushed: like the kernel on a closed socket, reset. */
  onFlushData(): void {
    this.up?.destroy();
  }

  private emitAccessLogs(): void {
    const logs = this.cfg.accessLogs;
    for (let i = 0; i < logs.length; i++) {
      try { logs[i].log(this.si); } catch (e) { this.cfg.log.error(`tcp_proxy access log failed: ${(e as Error).message}`); }
    }
  }

  // ---- RelayOwner ----

  onDownstreamBytes(n: number): void {
    const si = this.si;
    si.bytesReceived += n;
    si.upstreamBytesSent += n;
    if (si.firstUpstreamTxNs < 0) si.firstUpstreamTxNs = si.nowNs();
    this.cfg.stats.downstream_cx_rx_bytes_total.add(n);
    this.clusterStats!.upstream_cx_tx_bytes_total.add(n);
    this.lastActivity = performance.now();
  }

  onUpstreamBytes(n: number): void {
    const si = this.si;
    si.upstreamBytesReceived += n;
    si.bytesSent += n;
    if (si.firstUpstreamRxNs < 0) si.firstUpstreamRxNs = si.nowNs();
    this.cfg.stats.downstream_cx_tx_bytes_total.add(n);
    this.clusterStats!.upstream_cx_rx_bytes_total.add(n);
    this.lastActivity = performance.now();
  }

  onDownstreamEnd(): void { this.lastActivity = performance.now(); }
  onUpstreamEnd(): void { this.lastActivity = performance.now(); }

  onDownstreamReadDisabled(disabled: boolean): void {
    if (disabled) this.cfg.stats.downstream_flow_control_paused_reading_total.inc();
    else this.cfg.stats.downstream_flow_control_resumed_reading_total.inc();
  }
}

function sessionOf(s: net.Socket): TcpProxySession | undefined { return (s as Tagged)[kSession]; }
function onUpConnect(this: net.Socket): void { sessionOf(this)?.onUpstreamConnected(); }
function onUpError(this: net.Socket, _e: Error): void { /* 'close' follows and does the work */ }
function onUpClose(this: net.Socket): void { sessionOf(this)?.onUpstreamClosed(); }
function onFlushData(this: net.Socket): void { sessionOf(this)?.onFlushData(); }
function onConnectTimer(s: TcpProxySession): void { s.onConnectTimeout(); }
function onIdleTimer(s: TcpProxySession): void { s.onIdleTimerFired(); }
function onDurationTimer(s: TcpProxySession): void { s.onMaxDurationReached(); }
function onLogTimer(s: TcpProxySession): void { s.onLogTimerFired(); }
