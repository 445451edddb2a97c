// Envoy's connection-pool bookkeeping shared by the HTTP/1.1 and HTTP/2 pools:
// pending / active request stats and circuit breakers (ConnPoolImplBase), and
// connection stats (upstream_cx_*, host cx_*).
import type { ClusterInfo, Host, ResourceManager } from '../../../../cluster/types';

export abstract class PoolAccounting {
  /** Streams waiting for a connection. */
  pending = 0;
  /** Streams attached to a connection. */
  busy = 0;
  closed = false;

  constructor(readonly host: Host, readonly info: ClusterInfo) {}

  /**
   * Envoy ConnPoolImplBase::newStreamImpl's checks. `needsWait` = no ready
   * connection can take the stream now. Returns false on overflow (counted).
   */
  admit(rm: ResourceManager, needsWait: boolean): boolean {
    const st = this.info.stats;
    if (!rm.requests.canCreate()) {
      st.upstream_rq_pending_overflow.inc();
      return false;
    }
    if (needsWait && !rm.pendingRequests.canCreate()) {
      st.upstream_rq_pending_overflow.inc();
      return false;
    }
    return true;
  }

  onPendingStart(rm: ResourceManager): void {
    this.pending++;
    const st = this.info.stats;
    st.upstream_rq_pending_total.inc();
    st.upstream_rq_pending_active.inc();
    rm.pendingRequests.inc();
  }

  onPendingEnd(rm: ResourceManager): void {
    this.pending--;
    this.info.stats.upstream_rq_pending_active.dec();
    rm.pendingRequests.dec();
  }

  /** Envoy attachStreamToClient. */
  onAttach(rm: ResourceManager): void {
    this.busy++;
    const st = this.info.stats;
    st.upstream_rq_total.inc();
    st.upstream_rq_active.inc();
    rm.requests.inc();
    const hs = this.host.stats;
    hs.rq_total.inc();
    hs.rq_active.inc();
  }

  onDetach(rm: ResourceManager): void {
    this.busy--;
    this.info.stats.upstream_rq_active.dec();
    rm.requests.dec();
    this.host.stats.rq_active.dec();
  }

  /**
   * The stream is finished (attached or not). Host.activeRequests is the same
   * number as host rq_active (HostImpl), maintained by onAttach/onDetach.
   */
  onStreamGone(): void { /* nothing beyond onDetach / onPendingEnd */ }

  onCxConnected(http2: boolean, connectMs: number): void {
    const st = this.info.stats;
    st.upstream_cx_connect_ms?.record(connectMs);
    st.upstream_cx_total.inc();
    st.upstream_cx_active.inc();
    if (http2) st.upstream_cx_http2_total.inc(); else st.upstream_cx_http1_total.inc();
    this.host.stats.cx_total.inc();
    this.host.stats.cx_active.inc();
    this.info.resourceManagers[0].connections.inc();
  }

  onCxConnectFail(timeout: boolean): void {
    const st = this.info.stats;
    st.upstream_cx_total.inc();
    st.upstream_cx_connect_fail.inc();
    if (timeout) st.upstream_cx_connect_timeout.inc();
    this.host.stats.cx_total.inc();
    this.host.stats.cx_connect_fail.inc();
  }

  onCxClosed(bytesRead: number, bytesWritten: number, lengthMs: number): void {
    const st = this.info.stats;
    st.upstream_cx_length_ms?.record(lengthMs);
    st.upstream_cx_active.dec();
    st.upstream_cx_destroy.inc();
    st.upstream_cx_rx_bytes_total.add(bytesRead);
    st.upstream_cx_tx_bytes_total.add(bytesWritten);
    this.host.stats.cx_active.dec();
    this.info.resourceManagers[0].connections.dec();
  }

  onCxDestroyReason(local: boolean): void {
    if (local) this.info.stats.upstream_cx_destroy_local.inc(); else this.info.stats.upstream_cx_destroy_remote.inc();
  }

  /** Would a new connection exceed the cluster's max_connections? Counts upstream_cx_overflow. */
  connectionAllowed(): boolean {
    if (this.info.resourceManagers[0].connections.canCreate()) return true;
    this.info.stats.upstream_cx_overflow.inc();
    return false;
  }

  abstract close(): void;
  abstract destroy(): void;
}
