// The byte-moving part of tcp_proxy, kept behind a small interface so a native
// splice(2) path (native/) can replace the JS one without touching the session
// logic (routing, timers, stats, access logs).
//
// The JS relay moves chunks between the two sockets with flow control: when the
// destination's write buffer reaches the limit (Envoy's per_connection_buffer_limit_bytes
// high watermark), reading from the source pauses until the destination drained.
// Half-close is forwarded: a FIN from one side ends the write side of the other.
import type { Socket } from 'node:net';

/** What the relay reports back to its owner (the tcp_proxy session). */
export interface RelayOwner {
  /** n bytes read from downstream (and handed to upstream). */
  onDownstreamBytes(n: number): void;
  /** n bytes read from upstream (and handed to downstream). */
  onUpstreamBytes(n: number): void;
  /** Downstream sent FIN (already forwarded upstream). */
  onDownstreamEnd(): void;
  /** Upstream sent FIN (already forwarded downstream). */
  onUpstreamEnd(): void;
  /** Reading from downstream paused (true) or resumed (false) for flow control. */
  onDownstreamReadDisabled(disabled: boolean): void;
}

export interface Relay {
  /** Start moving bytes. `initial` (bytes read earlier from downstream) goes upstream first. */
  start(initial: Buffer | undefined): void;
  /** Detach from both sockets (they are closed by the owner). */
  stop(): void;
}

export interface RelayOptions {
  /** Pause reading upstream when downstream has this many bytes queued. */
  downstreamLimit: number;
  /** Pause reading downstream when upstream has this many bytes queued. */
  upstreamLimit: number;
}

export type RelayFactory = (down: Socket, up: Socket, owner: RelayOwner, opts: RelayOptions) => Relay;

const kRelay = Symbol('remora.tcpRelay');
type Tagged = Socket & { [kRelay]?: JsRelay };

/** Pure-JS relay: 'data' events, write(), pause()/resume() on 'drain'. */
export class JsRelay implements Relay {
  private downPaused = false;
  private upPaused = false;
  private stopped = false;

  constructor(
    readonly down: Socket,
    readonly up: Socket,
    private readonly owner: RelayOwner,
    private readonly opts: RelayOptions,
  ) {}

  start(initial: Buffer | undefined): void {
    const { down, up } = this;
    (down as Tagged)[kRelay] = this;
    (up as Tagged)[kRelay] = this;
    if (initial && initial.length) this.fromDownstream(initial);
    down.on('data', relayDownData);
    down.on('end', relayDownEnd);
    up.on('data', relayUpData);
    up.on('end', relayUpEnd);
    down.on('drain', relayDownDrain);
    up.on('drain', relayUpDrain);
    if (!this.downPaused) down.resume();
    up.resume();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const { down, up } = this;
    down.off('data', relayDownData);
    down.off('end', relayDownEnd);
    down.off('drain', relayDownDrain);
    up.off('data', relayUpData);
    up.off('end', relayUpEnd);
    up.off('drain', relayUpDrain);
    (down as Tagged)[kRelay] = undefined;
    (up as Tagged)[kRelay] = undefined;
  }

  /** @internal */
  fromDownstream(chunk: Buffer): void {
    this.owner.onDownstreamBytes(chunk.length);
    const up = this.up;
    if (up.destroyed || up.writableEnded) return;
    if (!up.write(chunk) && up.writableLength >= this.opts.upstreamLimit && !this.downPaused) {
      this.downPaused = true;
      this.down.pause();
      this.owner.onDownstreamReadDisabled(true);
    }
  }

  /** @internal */
  fromUpstream(chunk: Buffer): void {
    this.owner.onUpstreamBytes(chunk.length);
    const down = this.down;
    if (down.destroyed || down.writableEnded) return;
    if (!down.write(chunk) && down.writableLength >= this.opts.downstreamLimit && !this.upPaused) {
      this.upPaused = true;
      this.up.pause();
    }
  }

  /** @internal upstream write buffer drained */
  upDrained(): void {
    if (this.downPaused) {
      this.downPaused = false;
      this.down.resume();
      this.owner.onDownstreamReadDisabled(false);
    }
  }

  /** @internal downstream write buffer drained */
  downDrained(): void {
    if (this.upPaused) {
      this.upPaused = false;
      this.up.resume();
    }
  }

  /** @internal */
  downEnded(): void {
    const up = this.up;
    if (!up.destroyed && !up.writableEnded) up.end();
    this.owner.onDownstreamEnd();
  }

  /** @internal */
  upEnded(): void {
    const down = this.down;
    if (!down.destroyed && !down.writableEnded) down.end();
    this.owner.onUpstreamEnd();
  }
}

function relayOf(s: Socket): JsRelay | undefined { return (s as Tagged)[kRelay]; }
function relayDownData(this: Socket, chunk: Buffer): void { relayOf(this)?.fromDownstream(chunk); }
function relayUpData(this: Socket, chunk: Buffer): void { relayOf(this)?.fromUpstream(chunk); }
function relayDownEnd(this: Socket): void { relayOf(this)?.downEnded(); }
function relayUpEnd(this: Socket): void { relayOf(this)?.upEnded(); }
function relayDownDrain(this: Socket): void { relayOf(this)?.downDrained(); }
function relayUpDrain(this: Socket): void { relayOf(this)?.upDrained(); }

export const jsRelayFactory: RelayFactory = (down, up, owner, opts) => new JsRelay(down, up, owner, opts);
