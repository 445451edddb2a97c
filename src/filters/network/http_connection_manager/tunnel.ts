// The byte pipe of an upgraded HTTP/1.1 stream (WebSocket and other Upgrade types),
// opened only after the upstream answered 101. Bytes flow both ways with backpressure,
// a FIN on one side is forwarded as a FIN to the other (half-close), and the stream idle
// timeout closes a silent tunnel. The stream ends (access log) when both sides closed.
import type { Duplex } from 'node:stream';
import type { ActiveStream } from './active_stream';

const kTunnel = Symbol('remora.hcm.tunnel');
type Side = Duplex & { [kTunnel]?: Tunnel; allowHalfOpen?: boolean };

function onDownData(this: Side, chunk: Buffer): void { this[kTunnel]?.fromDown(chunk); }
function onUpData(this: Side, chunk: Buffer): void { this[kTunnel]?.fromUp(chunk); }
function onDownEnd(this: Side): void { this[kTunnel]?.downEnded(); }
function onUpEnd(this: Side): void { this[kTunnel]?.upEnded(); }
function onDownDrain(this: Side): void { this[kTunnel]?.downDrained(); }
function onUpDrain(this: Side): void { this[kTunnel]?.upDrained(); }
function onSideClose(this: Side): void { this[kTunnel]?.sideClosed(this); }
function onSideError(this: Side): void { this[kTunnel]?.destroy(); }
function onIdle(t: Tunnel): void { t.idleTimeout(); }

export class Tunnel {
  private downClosed = false;
  private upClosed = false;
  private done = false;
  private fromDownBytes = 0;
  private toDownBytes = 0;
  private idleTimedOut = false;
  private timer: NodeJS.Timeout | null = null;
  private readDisabled = 0;

  constructor(private readonly stream: ActiveStream, private readonly down: Side, private readonly up: Side,
    downHead: Buffer, upHead: Buffer, idleMs: number) {
    down[kTunnel] = this;
    up[kTunnel] = this;
    down.allowHalfOpen = true;
    up.allowHalfOpen = true;
    down.on('error', onSideError);
    up.on('error', onSideError);
    down.on('close', onSideClose);
    up.on('close', onSideClose);
    down.on('end', onDownEnd);
    up.on('end', onUpEnd);
    down.on('drain', onDownDrain);
    up.on('drain', onUpDrain);
    if (idleMs > 0) this.timer = setTimeout(onIdle, idleMs, this).unref();
    if (upHead.length > 0) { this.toDownBytes += upHead.length; down.write(upHead); }
    if (downHead.length > 0) { this.fromDownBytes += downHead.length; up.write(downHead); }
    down.on('data', onDownData);
    up.on('data', onUpData);
    if ((down as { destroyed?: boolean }).destroyed) this.sideClosed(down);
    if ((up as { destroyed?: boolean }).destroyed) this.sideClosed(up);
    down.resume();
    up.resume();
  }

  fromDown(chunk: Buffer): void {
    this.fromDownBytes += chunk.length;
    if (this.timer !== null) this.timer.refresh();
    if (!this.up.write(chunk)) this.down.pause();
  }

  fromUp(chunk: Buffer): void {
    this.toDownBytes += chunk.length;
    if (this.timer !== null) this.timer.refresh();
    if (!this.down.write(chunk)) this.up.pause();
  }

  upDrained(): void { if (this.readDisabled === 0) this.down.resume(); }
  downDrained(): void { this.up.resume(); }

  downEnded(): void { if (!this.upClosed) this.up.end(); }
  upEnded(): void { if (!this.downClosed) this.down.end(); }

  readDisable(disable: boolean): void {
    if (disable) { if (this.readDisabled++ === 0) this.down.pause(); }
    else if (this.readDisabled > 0 && --this.readDisabled === 0) this.down.resume();
  }

  sideClosed(side: Side): void {
    if (side === this.down) this.downClosed = true; else this.upClosed = true;
    // A side that closed without a clean FIN (reset) takes the other one down too.
    if (!this.downClosed && this.upClosed && !this.up.readableEnded) this.down.destroy();
    if (!this.upClosed && this.downClosed && !this.down.readableEnded) this.up.destroy();
    if (this.downClosed && this.upClosed) this.finish();
  }

  idleTimeout(): void {
    this.timer = null;
    this.idleTimedOut = true;
    this.destroy();
  }

  /** Close both sides now. */
  destroy(): void {
    if (!this.downClosed) this.down.destroy();
    if (!this.upClosed) this.up.destroy();
    // 'close' events finish the stream; if a side was already gone, finish here.
    if (this.downClosed && this.upClosed) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    this.down[kTunnel] = undefined;
    this.up[kTunnel] = undefined;
    this.stream.onTunnelClosed(this.fromDownBytes, this.toDownBytes, this.idleTimedOut);
  }
}
