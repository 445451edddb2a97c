// Envoy's JitteredExponentialBackOffStrategy: the interval starts at base and doubles up to
// max; each delay is uniformly random in [0, interval). The xDS stream uses base 500 ms and
// max 30 s (Envoy's defaults for the gRPC mux retry timer).

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_BACKOFF_MAX_MS = 30000;

export class JitteredBackoff {
  private interval: number;

  constructor(
    readonly baseMs = DEFAULT_BACKOFF_BASE_MS,
    readonly maxMs = DEFAULT_BACKOFF_MAX_MS,
    private readonly random: () => number = Math.random,
  ) {
    this.baseMs = Math.max(1, baseMs);
    this.maxMs = Math.max(this.baseMs, maxMs);
    this.interval = this.baseMs;
  }

  /** The next delay in ms. */
  next(): number {
    const cap = this.interval;
    this.interval = this.interval < this.maxMs / 2 ? this.interval * 2 : this.maxMs;
    return Math.min(Math.floor(this.random() * cap), this.maxMs);
  }

  /** The current interval cap (for logs and tests). */
  get currentIntervalMs(): number {
    return this.interval;
  }

  reset(): void {
    this.interval = this.baseMs;
  }
}
