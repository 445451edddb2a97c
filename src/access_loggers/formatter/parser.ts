// Format string -> parts. Runs once per config, never per request.
//
// Grammar (Envoy's SubstitutionFormatParser): plain text, "%%" for a literal '%',
// and command operators %NAME%, %NAME(sub)%, %NAME(sub):Z%, where NAME is
// [A-Z0-9_]+ and sub is the shortest text up to a ')' that is followed by an
// optional ":digits" and the closing '%'.
import { ConfigError } from '../../config/errors';
import { compileCommand, CommandError, Command } from './commands';

export type Part = string | Command;

const COMMAND = /%([A-Z0-9_]+)(?:\((.*?)\))?(?::([0-9]+))?%/y;

/** Parse a format string into literal strings and compiled commands (adjacent literals merged). */
export function parseFormat(format: string, path: string): Part[] {
  const parts: Part[] = [];
  let lit = '';
  let pos = 0;
  const n = format.length;
  while (pos < n) {
    const c = format.charCodeAt(pos);
    if (c !== 37 /* % */) {
      const next = format.indexOf('%', pos);
      const end = next < 0 ? n : next;
      lit += format.slice(pos, end);
      pos = end;
      continue;
    }
    if (format.charCodeAt(pos + 1) === 37) { lit += '%'; pos += 2; continue; }
    COMMAND.lastIndex = pos;
    const m = COMMAND.exec(format);
    if (m === null) {
      throw new ConfigError(path, `incorrect format "${format}": couldn't find a valid command at position ${pos}`);
    }
    const name = m[1];
    const sub = m[2];
    let len: number | undefined;
    if (m[3] !== undefined) {
      len = Number(m[3]);
      if (!Number.isSafeInteger(len)) throw new ConfigError(path, `length must be an integer, given: ${m[3]}`);
    }
    let cmd: Command;
    try {
      cmd = compileCommand(name, sub, len);
    } catch (e) {
      if (e instanceof CommandError) throw new ConfigError(path, `${e.message} in format "${format}"`);
      throw e;
    }
    if (lit) { parts.push(lit); lit = ''; }
    parts.push(cmd);
    pos = COMMAND.lastIndex;
  }
  if (lit) parts.push(lit);
  return parts;
}
