// The 'date' response header (Envoy's DateProvider): an RFC 7231 IMF-fixdate string,
// recomputed at most once per second.
let cachedSecond = -1;
let cached = '';

export function dateHeader(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== cachedSecond) {
    cachedSecond = sec;
    cached = new Date(sec * 1000).toUTCString();
  }
  return cached;
}
