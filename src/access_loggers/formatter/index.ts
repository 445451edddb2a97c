// The substitution format engine (Envoy's envoy.config.core.v3.SubstitutionFormatString
// and the access log command operators). A format is compiled once into parts
// (literal strings and Command objects); rendering walks the parts with no regex,
// no closures and no intermediate objects.
//
// Used by the access loggers, and reusable by the router's header formatter
// (request_headers_to_add values) and local replies (body_format).
import * as fs from 'node:fs';
import { ConfigError, joinPath } from '../../config/errors';
import type { Plain } from '../../config/plain';
import type { StreamInfo } from '../../common/stream_info';
import type { Headers } from '../../http/headers';
import { Command, renderText, renderValue } from './commands';
import { parseFormat, type Part } from './parser';

export { supportedCommands, responseFlagsToLongString } from './commands';
export type { StreamInfoExtras, ConnectionInfoExtras } from './commands';

/** Envoy's default access log format (SubstitutionFormatUtils::DEFAULT_FORMAT). */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% ' +
  '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

/** A compiled format. Header maps default to the ones recorded on the StreamInfo. */
export interface Formatter {
  format(info: StreamInfo, reqHeaders?: Headers, respHeaders?: Headers, respTrailers?: Headers): string;
  /** 'text/plain' for text formats, 'application/json' for JSON ones, unless content_type was configured. */
  readonly contentType: string;
}

export interface CompileOptions {
  /**
   * Render missing values as '' instead of '-'. Envoy's header formatter
   * (request_headers_to_add and friends) always uses this.
   */
  omitEmptyValues?: boolean;
  contentType?: string;
}

export class TextFormatter implements Formatter {
  readonly contentType: string;
  private readonly parts: readonly Part[];
  private readonly empty: string;

  constructor(parts: readonly Part[], omitEmptyValues: boolean, contentType: string) {
    this.parts = parts;
    this.empty = omitEmptyValues ? '' : '-';
    this.contentType = contentType;
  }

  format(info: StreamInfo, req: Headers | undefined = info.requestHeaders,
    resp: Headers | undefined = info.responseHeaders, tr: Headers | undefined = info.responseTrailers): string {
    const parts = this.parts;
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (typeof p === 'string') { out += p; continue; }
      const s = renderText(p, info, req, resp, tr);
      out += s === undefined ? this.empty : s;
    }
    return out;
  }

  /** True when the format has no command operators (the output is a constant). */
  get isConstant(): boolean { return this.parts.every((p) => typeof p === 'string'); }
}

// JSON format tree nodes.
const N_LIT = 0;  // constant JSON text
const N_STR = 1;  // several parts -> always a JSON string
const N_CMD = 2;  // exactly one command -> typed value (or string in untyped mode)
const N_OBJ = 3;
const N_LIST = 4;

class JsonNode {
  constructor(
    readonly t: number,
    readonly lit: string,
    readonly parts: readonly Part[],
    readonly cmd: Command | undefined,
    /** N_OBJ: '"key":' strings, already JSON-escaped. */
    readonly keys: readonly string[],
    readonly kids: readonly JsonNode[],
  ) {}
}

/** JSON string literal; skips JSON.stringify when nothing needs escaping (the common case). */
function jsonQuote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

const NO_PARTS: Part[] = [];
const NO_KEYS: string[] = [];
const NO_KIDS: JsonNode[] = [];

export class JsonFormatter implements Formatter {
  readonly contentType: string;
  private readonly root: JsonNode;
  private readonly omitEmpty: boolean;
  private readonly typed: boolean;

  /**
   * @param typed Envoy's preserve_types: numbers stay numbers and missing values are null
   *   (SubstitutionFormatString.json_format). false = every value a string, missing '-'
   *   (the deprecated FileAccessLog.json_format).
   */
  constructor(struct: Plain, path: string, opts: { omitEmptyValues: boolean; typed: boolean; sortProperties: boolean;
    contentType: string }) {
    this.omitEmpty = opts.omitEmptyValues;
    this.typed = opts.typed;
    this.contentType = opts.contentType;
    if (struct === null || typeof struct !== 'object' || Array.isArray(struct)) {
      throw new ConfigError(path, 'json_format must be a JSON object');
    }
    this.root = compileJson(struct, path, opts.sortProperties);
  }

  format(info: StreamInfo, req: Headers | undefined = info.requestHeaders,
    resp: Headers | undefined = info.responseHeaders, tr: Headers | undefined = info.responseTrailers): string {
    return (this.render(this.root, info, req, resp, tr) ?? '{}') + '\n';
  }

  /** JSON text of a node; undefined when the value is null and omit_empty_values drops it. */
  private render(n: JsonNode, info: StreamInfo, req: Headers | undefined, resp: Headers | undefined,
    tr: Headers | undefined): string | undefined {
    switch (n.t) {
      case N_LIT: return n.lit;
      case N_CMD: {
        const c = n.cmd!;
        if (this.typed) {
          const v = renderValue(c, info, req, resp, tr);
          if (v === null) return this.omitEmpty ? undefined : 'null';
          if (typeof v === 'string') return jsonQuote(v);
          if (typeof v === 'number') return Number.isFinite(v) ? '' + v : 'null';
          return JSON.stringify(v) ?? 'null';
        }
        const s = renderText(c, info, req, resp, tr);
        if (s === undefined) return this.omitEmpty ? undefined : '"-"';
        return jsonQuote(s);
      }
      case N_STR: {
        const parts = n.parts;
        const empty = this.omitEmpty ? '' : '-';
        let out = '';
        for (let i = 0; i < parts.length; i++) {
          const p = parts[i];
          if (typeof p === 'string') { out += p; continue; }
          const s = renderText(p, info, req, resp, tr);
          out += s === undefined ? empty : s;
        }
        return jsonQuote(out);
      }
      case N_OBJ: {
        let out = '{';
        let first = true;
        const kids = n.kids;
        for (let i = 0; i < kids.length; i++) {
          const v = this.render(kids[i], info, req, resp, tr);
          if (v === undefined) continue;
          if (!first) out += ',';
          out += n.keys[i] + v;
          first = false;
        }
        return out + '}';
      }
      default: { // N_LIST
        let out = '[';
        let first = true;
        const kids = n.kids;
        for (let i = 0; i < kids.length; i++) {
          const v = this.render(kids[i], info, req, resp, tr);
          if (v === undefined) continue;
          if (!first) out += ',';
          out += v;
          first = false;
        }
        return out + ']';
      }
    }
  }
}

function compileJson(v: unknown, path: string, sort: boolean): JsonNode {
  if (typeof v === 'string') {
    const parts = parseFormat(v, path);
    if (parts.length === 0) return new JsonNode(N_LIT, '""', NO_PARTS, undefined, NO_KEYS, NO_KIDS);
    if (parts.length === 1 && typeof parts[0] !== 'string') {
      return new JsonNode(N_CMD, '', NO_PARTS, parts[0], NO_KEYS, NO_KIDS);
    }
    if (parts.every((p) => typeof p === 'string')) {
      return new JsonNode(N_LIT, JSON.stringify(parts.join('')), NO_PARTS, undefined, NO_KEYS, NO_KIDS);
    }
    return new JsonNode(N_STR, '', parts, undefined, NO_KEYS, NO_KIDS);
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) {
    return new JsonNode(N_LIT, JSON.stringify(v) ?? 'null', NO_PARTS, undefined, NO_KEYS, NO_KIDS);
  }
  if (Array.isArray(v)) {
    const kids = v.map((x, i) => compileJson(x, `${path}[${i}]`, sort));
    return new JsonNode(N_LIST, '', NO_PARTS, undefined, NO_KEYS, kids);
  }
  if (typeof v === 'object') {
    const names = Object.keys(v as object);
    if (sort) names.sort();
    const keys = names.map((k) => JSON.stringify(k) + ':');
    const kids = names.map((k) => compileJson((v as Record<string, unknown>)[k], joinPath(path, k), sort));
    return new JsonNode(N_OBJ, '', NO_PARTS, undefined, keys, kids);
  }
  throw new ConfigError(path, 'only strings, numbers, booleans, nested objects and lists are supported in json_format');
}

/**
 * Compile a text format string once. `path` names the config field for errors.
 * Unknown command operators and bad syntax throw ConfigError.
 */
export function compileFormat(str: string, path: string, opts?: CompileOptions): TextFormatter {
  return new TextFormatter(parseFormat(str, path), opts?.omitEmptyValues ?? false, opts?.contentType ?? 'text/plain');
}

/** Compile a JSON (Struct) format: typed values, as SubstitutionFormatString.json_format does. */
export function compileJsonFormat(struct: Plain, path: string, opts?: CompileOptions & { typed?: boolean;
  sortProperties?: boolean }): JsonFormatter {
  return new JsonFormatter(struct, path, {
    omitEmptyValues: opts?.omitEmptyValues ?? false,
    typed: opts?.typed ?? true,
    sortProperties: opts?.sortProperties ?? false,
    contentType: opts?.contentType ?? 'application/json',
  });
}

/** Envoy's default access log formatter. */
export function defaultFormatter(): TextFormatter {
  return compileFormat(DEFAULT_FORMAT, '');
}

/** Read a DataSource (filename | inline_string | inline_bytes | environment_variable) at config time. */
function readDataSource(ds: Plain, path: string): string {
  if (ds.inline_string !== undefined) return ds.inline_string as string;
  if (ds.inline_bytes !== undefined) return Buffer.from(ds.inline_bytes as Uint8Array).toString('utf8');
  if (ds.environment_variable !== undefined) {
    const v = process.env[ds.environment_variable as string];
    if (v === undefined) {
      throw new ConfigError(joinPath(path, 'environment_variable'),
        `environment variable "${ds.environment_variable}" is not set`);
    }
    return v;
  }
  if (ds.filename !== undefined) {
    try {
      return fs.readFileSync(ds.filename as string, 'utf8');
    } catch (e) {
      throw new ConfigError(joinPath(path, 'filename'), `cannot read "${ds.filename}": ${(e as Error).message}`);
    }
  }
  throw new ConfigError(path, 'data source must set one of filename, inline_string, inline_bytes, environment_variable');
}

/**
 * Compile an envoy.config.core.v3.SubstitutionFormatString (plain form).
 * `path` is the path of the SubstitutionFormatString itself.
 */
export function compileSubstitutionFormat(cfg: Plain, path: string): Formatter {
  const formatters: Plain[] = cfg.formatters ?? [];
  if (formatters.length > 0) {
    const f = formatters[0];
    const what = f?.name || f?.typed_config?.['@type'] || 'formatter';
    throw new ConfigError(joinPath(path, 'formatters[0]'), `formatter extension "${what}" is not supported`);
  }
  const omit = cfg.omit_empty_values === true;
  const ct: string = cfg.content_type ?? '';
  if (cfg.text_format !== undefined) {
    return compileFormat(cfg.text_format as string, joinPath(path, 'text_format'),
      { omitEmptyValues: omit, contentType: ct || 'text/plain' });
  }
  if (cfg.text_format_source !== undefined) {
    const p = joinPath(path, 'text_format_source');
    return compileFormat(readDataSource(cfg.text_format_source, p), p,
      { omitEmptyValues: omit, contentType: ct || 'text/plain' });
  }
  if (cfg.json_format !== undefined) {
    return compileJsonFormat(cfg.json_format, joinPath(path, 'json_format'), {
      omitEmptyValues: omit, typed: true, sortProperties: cfg.json_format_options?.sort_properties === true,
      contentType: ct || 'application/json',
    });
  }
  throw new ConfigError(path, 'one of text_format, json_format or text_format_source must be set');
}
