// Bootstrap loading, as Envoy does it: the file given with -c (YAML, JSON or binary proto,
// chosen by extension), then `--config-yaml` merged over it with protobuf MergeFrom
// semantics, then PGV validation of the merged result.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as protobuf from 'protobufjs';
import * as YAML from 'yaml';
import { ConfigError } from './errors';
import { fromJSON, toPlain } from './json';
import { mergeMessage } from './merge';
import type { Plain } from './plain';
import { lookupType } from './protos';
import { validateMessage } from './validate';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

export interface BootstrapSource {
  /** -c / --config-path */
  configPath?: string;
  /** --config-yaml (merged over the file) */
  configYaml?: string;
}

// ---- YAML the way Envoy reads it --------------------------------------------------
// Envoy turns YAML into a google.protobuf.Value itself (yaml-cpp, parseYamlNode in
// source/common/protobuf/yaml_utility.cc) and then parses that as proto3 JSON:
//  - quoted and block scalars are strings;
//  - unquoted y/yes/true/on and n/no/false/off (all-lower, all-upper or Capitalized) are booleans;
//  - unquoted integers (decimal, 0x hex, leading-0 octal: iostream base detection) are
//    numbers when they fit an int32 and decimal strings otherwise (int64 precision kept);
//  - every other unquoted scalar, floats included, is a string (proto3 JSON accepts
//    numeric strings for numeric fields; inside a Struct it stays a string, as in Envoy);
//  - ~ / null / empty are null (= unset);
//  - map keys tagged `!ignore` are dropped (a place to park anchors).
// Merge keys (`<<`) are honoured too.

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function yamlInt(text: string, digits: string, radix: number, negative: boolean): unknown {
  let b: bigint;
  try {
    b = radix === 10 ? BigInt(digits) : radix === 16 ? BigInt('0x' + digits) : BigInt('0o' + digits);
  } catch {
    return text;
  }
  if (negative) b = -b;
  if (b < INT64_MIN || b > INT64_MAX) return text; // yaml-cpp cannot convert: stays the raw string
  const n = Number(b);
  return n >= INT32_MIN && n <= INT32_MAX ? n : b.toString();
}

const YAML_TAGS = [
  {
    identify: (v: unknown) => v === true,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON)$/,
    resolve: () => true,
  },
  {
    identify: (v: unknown) => v === false,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:n|N|no|No|NO|false|False|FALSE|off|Off|OFF)$/,
    resolve: () => false,
  },
  {
    identify: (v: unknown) => typeof v === 'number' && Number.isInteger(v),
    default: true,
    tag: 'tag:yaml.org,2002:int',
    test: /^[-+]?(?:0|[1-9][0-9]*)$/,
    resolve: (s: string) => yamlInt(s, s.replace(/^[-+]/, ''), 10, s[0] === '-'),
  },
  {
    identify: () => false,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'HEX',
    test: /^[-+]?0[xX][0-9a-fA-F]+$/,
    resolve: (s: string) => yamlInt(s, s.replace(/^[-+]?0[xX]/, ''), 16, s[0] === '-'),
  },
  {
    identify: () => false,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'OCT',
    test: /^[-+]?0[0-7]+$/,
    resolve: (s: string) => yamlInt(s, s.replace(/^[-+]?0/, ''), 8, s[0] === '-'),
  },
];

type YamlTag = { tag: string };

const YAML_OPTIONS: YAML.ParseOptions & YAML.DocumentOptions & YAML.SchemaOptions = {
  schema: 'core',
  merge: true,
  uniqueKeys: true,
  customTags: (tags) => {
    const kept = (tags as YamlTag[]).filter(
      (t) => t.tag !== 'tag:yaml.org,2002:bool' && t.tag !== 'tag:yaml.org,2002:int' && t.tag !== 'tag:yaml.org,2002:float',
    );
    return [...YAML_TAGS, ...kept] as YAML.Tags;
  },
};

// Keys tagged `!ignore` are renamed to this during parsing (so anchors inside them still
// resolve) and deleted afterwards.
const IGNORED_KEY = '\u0000remora:ignore\u0000';

function dropIgnored(v: unknown, depth: number): void {
  if (depth > 200 || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) dropIgnored(x, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(o, IGNORED_KEY)) delete o[IGNORED_KEY];
  for (const k of Object.keys(o)) dropIgnored(o[k], depth + 1);
}

/** Parse YAML text into JSON-like data; `source` names it in errors. */
export function parseYaml(text: string, source: string): unknown {
  const doc = YAML.parseDocument(text, YAML_OPTIONS);
  if (doc.errors.length) throw new ConfigError('', `unable to parse YAML from ${source}: ${doc.errors[0].message}`);
  let ignored = false;
  YAML.visit(doc, {
    Pair(_key, pair) {
      const k = pair.key;
      if (YAML.isScalar(k)) {
        if (k.tag === '!ignore') {
          k.value = IGNORED_KEY;
          ignored = true;
        } else if (typeof k.value !== 'string' && k.value !== null && typeof k.source === 'string') {
          // Keys are their text (yaml-cpp `as<std::string>()`): `y:` is "y", not true.
          k.value = k.source;
        }
      }
      return undefined;
    },
  });
  let out: unknown;
  try {
    out = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ConfigError('', `unable to parse YAML from ${source}: ${(e as Error).message}`);
  }
  if (ignored) dropIgnored(out, 0);
  return out;
}

/** Parse JSON text; `source` names it in errors. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError('', `unable to parse JSON from ${source}: ${(e as Error).message}`);
  }
}

/** Parse config text by the file name's extension (.yaml/.yml, .json; anything else: JSON, then YAML). */
export function parseConfigText(text: string, fileName: string): unknown {
  const ext = path.extname(fileName).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return parseYaml(text, fileName);
  if (ext === '.json') return parseJson(text, fileName);
  try {
    return JSON.parse(text);
  } catch {
    return parseYaml(text, fileName);
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('', `unable to read file: ${file}: ${(e as Error).message}`);
  }
}

/** Read a YAML/JSON config file into JSON-like data. */
export function readConfigFile(file: string): unknown {
  return parseConfigText(readText(file), file);
}

function topLevel(json: unknown, source: string): unknown {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError('', `${source}: expected a mapping at the top level (envoy.config.bootstrap.v3.Bootstrap)`);
  }
  return json;
}

/** The merged, validated Bootstrap message (kept for /config_dump). */
export function loadBootstrapMessage(src: BootstrapSource): protobuf.Message {
  let msg: protobuf.Message | undefined;
  if (src.configPath) {
    const ext = path.extname(src.configPath).toLowerCase();
    if (ext === '.pb') {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(src.configPath);
      } catch (e) {
        throw new ConfigError('', `unable to read file: ${src.configPath}: ${(e as Error).message}`);
      }
      try {
        msg = (lookupType(BOOTSTRAP_TYPE) as protobuf.Type).decode(bytes);
      } catch (e) {
        throw new ConfigError('', `unable to parse binary proto from ${src.configPath}: ${(e as Error).message}`);
      }
    } else {
      msg = fromJSON(BOOTSTRAP_TYPE, topLevel(readConfigFile(src.configPath), src.configPath), '', { validate: false });
    }
  }
  if (src.configYaml) {
    const over = fromJSON(BOOTSTRAP_TYPE, topLevel(parseYaml(src.configYaml, '--config-yaml'), '--config-yaml'), '', { validate: false });
    msg = msg ? mergeMessage(BOOTSTRAP_TYPE, msg, over) : over;
  }
  if (!msg) throw new ConfigError('', 'At least one of --config-path or --config-yaml should be non-empty');
  validateMessage(BOOTSTRAP_TYPE, msg, '');
  return msg;
}

/** The bootstrap in plain form (src/config/plain.ts). Throws ConfigError naming the field path. */
export function loadBootstrap(src: BootstrapSource): Plain {
  return toPlain(BOOTSTRAP_TYPE, loadBootstrapMessage(src));
}
