// request/response_headers_to_add / _to_remove, compiled into one flat op list per
// route (and per weighted cluster) so applying them is a single loop.
//
// Semantics follow Envoy's HeaderParser::evaluateHeaders, level by level (a level is
// one of: weighted cluster, route, virtual host, route configuration):
//  1. the level's headers_to_remove are removed;
//  2. every headers_to_add entry of the level is formatted and decided against the
//     headers as they are *before* any of the level's additions (ADD_IF_ABSENT /
//     OVERWRITE_IF_EXISTS look at that state); empty values are skipped unless
//     keep_empty_value;
//  3. the level's overwrites are applied, then its appends.
// Levels whose entries cannot observe each other (distinct keys, no %REQ/RESP% of a
// key the level adds) are applied entry by entry, which gives the same result without
// the staging step; other levels are staged and flushed at the level's end.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import { appendHeader, type Headers } from '../http/headers';
import { type FormatterContext, type HeaderFormatter, parseHeaderFormatter } from './formatter';
import { asciiLower, hasControlChars, isValidHeaderName } from './matchers';

export const OP_REMOVE = 0;
/** APPEND_IF_EXISTS_OR_ADD (default; `append: true`). */
export const OP_APPEND = 1;
export const OP_ADD_IF_ABSENT = 2;
/** OVERWRITE_IF_EXISTS_OR_ADD (`append: false`). */
export const OP_OVERWRITE_OR_ADD = 3;
export const OP_OVERWRITE_IF_EXISTS = 4;
/** End of a staged level: apply its pending overwrites, then its pending appends. */
export const OP_FLUSH = 5;

export class HeaderOp {
  constructor(
    readonly op: number,
    /** Lowercase header name ('' for OP_FLUSH). */
    readonly key: string,
    readonly formatter: HeaderFormatter | null,
    readonly keepEmpty: boolean,
    /** Part of a staged level (decisions made before the level's additions apply). */
    readonly staged: boolean,
  ) {}
}

/** A compiled, immutable list of header operations. */
export class HeaderMutations {
  readonly empty: boolean;
  constructor(readonly ops: ReadonlyArray<HeaderOp>) {
    this.empty = ops.length === 0;
  }
  static readonly EMPTY = new HeaderMutations([]);
}

const APPEND_ACTIONS: Record<string, number> = {
  APPEND_IF_EXISTS_OR_ADD: OP_APPEND,
  ADD_IF_ABSENT: OP_ADD_IF_ABSENT,
  OVERWRITE_IF_EXISTS_OR_ADD: OP_OVERWRITE_OR_ADD,
  OVERWRITE_IF_EXISTS: OP_OVERWRITE_IF_EXISTS,
};

/** Envoy's isModifiableHeader / isRemovableHeader: no pseudo headers, no Host. */
function isModifiable(lname: string): boolean {
  return lname.charCodeAt(0) !== 58 && lname !== 'host';
}

interface AddEntry {
  op: number;
  key: string;
  formatter: HeaderFormatter;
  keepEmpty: boolean;
}

function compileHeaderValueOption(o: Plain, path: string): AddEntry {
  if (!o || typeof o !== 'object' || !o.header) throw new ConfigError(joinPath(path, 'header'), 'value is required');
  const hv = o.header;
  const hp = joinPath(path, 'header');
  const key = typeof hv.key === 'string' ? hv.key : '';
  if (!isValidHeaderName(key)) throw new ConfigError(joinPath(hp, 'key'), `invalid header name "${key}"`);
  const lkey = asciiLower(key);
  if (!isModifiable(lkey)) throw new ConfigError(joinPath(hp, 'key'), ':-prefixed or host headers may not be modified');
  let value: string = typeof hv.value === 'string' ? hv.value : '';
  const raw: Buffer | undefined = hv.raw_value;
  if (raw && raw.length > 0) {
    if (value.length > 0) throw new ConfigError(hp, 'only one of value or raw_value can be set');
    value = Buffer.from(raw).toString('latin1');
  }
  if (hasControlChars(value)) throw new ConfigError(joinPath(hp, 'value'), 'header value must not contain NUL, CR or LF');
  let op: number;
  const actionName: string = o.append_action ?? 'APPEND_IF_EXISTS_OR_ADD';
  if (o.append !== undefined && o.append !== null) {
    if (actionName !== 'APPEND_IF_EXISTS_OR_ADD') {
      throw new ConfigError(path, "Both append and append_action are set and it's not allowed");
    }
    op = o.append ? OP_APPEND : OP_OVERWRITE_OR_ADD;
  } else {
    const a = APPEND_ACTIONS[actionName];
    if (a === undefined) throw new ConfigError(joinPath(path, 'append_action'), `unknown enum value "${actionName}"`);
    op = a;
  }
  const formatter = parseHeaderFormatter(value, joinPath(hp, raw && raw.length > 0 ? 'raw_value' : 'value'));
  return { op, key: lkey, formatter, keepEmpty: o.keep_empty_value === true };
}

/**
 * Compile one level (one message's *_headers_to_add + *_headers_to_remove).
 * `addField` / `removeField` are the field names for error paths, relative to `path`.
 */
const NO_OPS: HeaderOp[] = Object.freeze([]) as unknown as HeaderOp[];

export function compileHeaderLevel(toAdd: Plain[] | undefined, toRemove: string[] | undefined,
  path: string, addField: string, removeField: string): HeaderOp[] {
  if ((toAdd === undefined || toAdd.length === 0) && (toRemove === undefined || toRemove.length === 0)) return NO_OPS;
  const ops: HeaderOp[] = [];
  const removes = toRemove ?? [];
  for (let i = 0; i < removes.length; i++) {
    const name = removes[i];
    const p = `${joinPath(path, removeField)}[${i}]`;
    if (typeof name !== 'string' || !isValidHeaderName(name)) throw new ConfigError(p, `invalid header name "${String(name)}"`);
    const l = asciiLower(name);
    if (!isModifiable(l)) throw new ConfigError(p, ':-prefixed or host headers may not be removed');
    ops.push(new HeaderOp(OP_REMOVE, l, null, false, false));
  }
  const adds = toAdd ?? [];
  const entries: AddEntry[] = [];
  for (let i = 0; i < adds.length; i++) entries.push(compileHeaderValueOption(adds[i], `${joinPath(path, addField)}[${i}]`));
  // Stage the level only when its entries could observe one another.
  const keys = new Set<string>();
  let staged = false;
  for (const e of entries) {
    if (keys.has(e.key)) staged = true;
    keys.add(e.key);
  }
  if (!staged) {
    for (const e of entries) for (const r of e.formatter.readsHeaders) if (keys.has(r)) staged = true;
  }
  for (const e of entries) ops.push(new HeaderOp(e.op, e.key, e.formatter, e.keepEmpty, staged));
  if (staged && entries.length > 0) ops.push(new HeaderOp(OP_FLUSH, '', null, false, true));
  return ops;
}

/** Flatten levels (already in application order) into one list. */
export function concatMutations(levels: ReadonlyArray<ReadonlyArray<HeaderOp>>): HeaderMutations {
  let n = 0;
  for (const l of levels) n += l.length;
  if (n === 0) return HeaderMutations.EMPTY;
  const ops: HeaderOp[] = [];
  for (const l of levels) for (const o of l) ops.push(o);
  return new HeaderMutations(ops);
}

function present(h: Headers, key: string): boolean {
  const v = h[key];
  return v !== undefined && (typeof v === 'string' || v.length > 0);
}

/**
 * Apply a compiled mutation list to `headers` in place. `ctx` feeds %FORMATTER% values:
 * for request mutations pass `{ requestHeaders: headers, streamInfo }`, for response
 * mutations `{ requestHeaders, responseHeaders: headers, streamInfo }`.
 */
export function applyHeaderMutations(list: HeaderMutations, headers: Headers, ctx: FormatterContext): void {
  const ops = list.ops;
  // Staged levels only: [op, key, value] triples, allocated on first use.
  let pending: Array<number | string> | null = null;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    const op = o.op;
    if (op === OP_REMOVE) {
      if (headers[o.key] !== undefined) delete headers[o.key];
      continue;
    }
    if (op === OP_FLUSH) {
      if (pending !== null) {
        for (let j = 0; j < pending.length; j += 3) {
          if (pending[j] === OP_OVERWRITE_OR_ADD) headers[pending[j + 1] as string] = pending[j + 2] as string;
        }
        for (let j = 0; j < pending.length; j += 3) {
          if (pending[j] === OP_APPEND) appendHeader(headers, pending[j + 1] as string, pending[j + 2] as string);
        }
        pending.length = 0;
      }
      continue;
    }
    const f = o.formatter as HeaderFormatter;
    const value = f.literal !== null ? f.literal : f.format(ctx);
    if (value.length === 0 && !o.keepEmpty) continue;
    // Decide: append (add) or overwrite, against the pre-addition state of the level.
    let action: number;
    switch (op) {
      case OP_APPEND: action = OP_APPEND; break;
      case OP_ADD_IF_ABSENT: if (present(headers, o.key)) continue; action = OP_APPEND; break;
      case OP_OVERWRITE_IF_EXISTS: if (!present(headers, o.key)) continue; action = OP_OVERWRITE_OR_ADD; break;
      default: action = OP_OVERWRITE_OR_ADD; break;
    }
    if (o.staged) {
      if (pending === null) pending = [];
      pending.push(action, o.key, value);
    } else if (action === OP_APPEND) {
      appendHeader(headers, o.key, value);
    } else {
      headers[o.key] = value;
    }
  }
}
