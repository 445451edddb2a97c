// HTTP status code helpers (Envoy's Http::CodeUtility).
import { STATUS_CODES } from 'node:http';

/** Envoy's CodeUtility::toString: the reason phrase ("Bad Request"), "Unknown" for unknown codes. */
export function statusText(code: number): string {
  return STATUS_CODES[code] ?? 'Unknown';
}

/** 1..5 for 1xx..5xx, 0 otherwise. */
export function statusClass(code: number): number {
  return code >= 100 && code < 600 ? (code / 100) | 0 : 0;
}

/** Parse a ':status' value; 0 when absent or not a 3-digit number. */
export function parseStatus(v: string | string[] | undefined): number {
  if (v === undefined) return 0;
  const s = typeof v === 'string' ? v : v[0];
  if (s === undefined || s.length !== 3) return 0;
  const a = s.charCodeAt(0) - 48;
  const b = s.charCodeAt(1) - 48;
  const c = s.charCodeAt(2) - 48;
  if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return 0;
  return a * 100 + b * 10 + c;
}

/** Responses that never carry a body (RFC 9110): 1xx, 204, 304. */
export function statusHasNoBody(code: number): boolean {
  return code < 200 || code === 204 || code === 304;
}
