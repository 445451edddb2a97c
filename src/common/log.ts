// Envoy-style leveled logging to stderr: "[2024-01-01 00:00:00.000][info][main] message".
import type { Logger } from '../server/context';

export const LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type Level = typeof LEVELS[number];

let current = 2; // info
const loggerLevels = new Map<string, number>();

export function levelIndex(name: string): number {
  const n = name === 'warn' ? 'warning' : name;
  return LEVELS.indexOf(n as Level);
}

export function setLogLevel(level: string, logger?: string): boolean {
  const i = levelIndex(level);
  if (i < 0) return false;
  if (logger) loggerLevels.set(logger, i); else { current = i; for (const k of loggerLevels.keys()) loggerLevels.set(k, i); }
  return true;
}

export function getLogLevel(logger?: string): string {
  return LEVELS[logger ? (loggerLevels.get(logger) ?? current) : current];
}

export function loggerNames(): string[] { return [...loggerLevels.keys()].sort(); }

function ts(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

let sink: (line: string) => void = (line) => { process.stderr.write(line); };
/** Tests may capture log lines. */
export function setLogSink(fn: (line: string) => void): void { sink = fn; }

export function createLogger(name: string): Logger {
  if (!loggerLevels.has(name)) loggerLevels.set(name, current);
  const emit = (i: number, msg: string) => {
    if (i >= (loggerLevels.get(name) ?? current)) sink(`[${ts()}][${LEVELS[i]}][${name}] ${msg}\n`);
  };
  return {
    trace: (m) => emit(0, m), debug: (m) => emit(1, m), info: (m) => emit(2, m),
    warn: (m) => emit(3, m), error: (m) => emit(4, m), critical: (m) => emit(5, m),
  };
}
