// Envoy's tag extraction (source/common/stats/tag_producer_impl.cc, tag_extractor_impl.cc
// and the default extractors of source/common/config/well_known_names.cc): turns a flat
// stat name such as "cluster.foo.upstream_rq_200" into a tag-extracted name
// ("cluster.upstream_rq") plus tags ({envoy.response_code=200, envoy.cluster_name=foo}).
//
// Every extractor looks at the original name; the characters each one claims are
// removed at the end, so the result does not depend on extractor order (only the
// order of the tags does, and that follows Envoy: extractors without a prefix token
// first, then those keyed by the name's first token, each in declaration order).
import type { Plain } from '../config/plain';

export interface Tag { name: string; value: string }
export interface TagExtraction { extractedName: string; tags: Tag[] }

export class TagConfigError extends Error {
  constructor(readonly field: string, message: string) { super(`${field}: ${message}`); }
}

/** Well-known tag names (Config::TagNames). */
export const TagNames = {
  CLUSTER_NAME: 'envoy.cluster_name',
  LISTENER_ADDRESS: 'envoy.listener_address',
  HTTP_CONN_MANAGER_PREFIX: 'envoy.http_conn_manager_prefix',
  HTTP_USER_AGENT: 'envoy.http_user_agent',
  SSL_CIPHER: 'envoy.ssl_cipher',
  SSL_CURVE: 'envoy.ssl_curve',
  SSL_SIGALG: 'envoy.ssl_sigalg',
  SSL_VERSION: 'envoy.ssl_version',
  SSL_CIPHER_SUITE: 'cipher_suite',
  CLIENTSSL_PREFIX: 'envoy.clientssl_prefix',
  MONGO_PREFIX: 'envoy.mongo_prefix',
  MONGO_CMD: 'envoy.mongo_cmd',
  MONGO_COLLECTION: 'envoy.mongo_collection',
  MONGO_CALLSITE: 'envoy.mongo_callsite',
  RATELIMIT_PREFIX: 'envoy.ratelimit_prefix',
  LOCAL_HTTP_RATELIMIT_PREFIX: 'envoy.local_http_ratelimit_prefix',
  LOCAL_NETWORK_RATELIMIT_PREFIX: 'envoy.local_network_ratelimit_prefix',
  LOCAL_LISTENER_RATELIMIT_PREFIX: 'envoy.local_listener_ratelimit_prefix',
  DNS_FILTER_PREFIX: 'envoy.dns_filter_prefix',
  CONNECTION_LIMIT_PREFIX: 'envoy.connection_limit_prefix',
  RBAC_PREFIX: 'envoy.rbac_prefix',
  RBAC_HTTP_PREFIX: 'envoy.rbac_http_prefix',
  RBAC_POLICY_NAME: 'envoy.rbac_policy_name',
  TCP_PREFIX: 'envoy.tcp_prefix',
  UDP_PREFIX: 'envoy.udp_prefix',
  FAULT_DOWNSTREAM_CLUSTER: 'envoy.fault_downstream_cluster',
  DYNAMO_OPERATION: 'envoy.dynamo_operation',
  DYNAMO_TABLE: 'envoy.dynamo_table',
  DYNAMO_PARTITION_ID: 'envoy.dynamo_partition_id',
  GRPC_BRIDGE_SERVICE: 'envoy.grpc_bridge_service',
  GRPC_BRIDGE_METHOD: 'envoy.grpc_bridge_method',
  VIRTUAL_HOST: 'envoy.virtual_host',
  VIRTUAL_CLUSTER: 'envoy.virtual_cluster',
  RESPONSE_CODE: 'envoy.response_code',
  RESPONSE_CODE_CLASS: 'envoy.response_code_class',
  RDS_ROUTE_CONFIG: 'envoy.rds_route_config',
  SCOPED_RDS_CONFIG: 'envoy.scoped_rds_config',
  ROUTE: 'envoy.route',
  EXT_AUTHZ_PREFIX: 'envoy.ext_authz_prefix',
  WORKER_ID: 'envoy.worker_id',
  THRIFT_PREFIX: 'envoy.thrift_prefix',
  REDIS_PREFIX: 'envoy.redis_prefix',
  PROXY_PROTOCOL_VERSION: 'envoy.proxy_protocol_version',
  PROXY_PROTOCOL_PREFIX: 'envoy.proxy_protocol_prefix',
  GOOGLE_GRPC_CLIENT_PREFIX: 'envoy.google_grpc_client_prefix',
} as const;

const T = TagNames;

// Pattern substitutions of well_known_names.cc expandRegex().
const SUBST: Record<string, string> = {
  '<ADDRESS>': String.raw`(?:(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[a-fA-F_\d]+\])_\d+)`,
  '<CIPHER>': String.raw`[\w-]+`,
  '<TLS_VERSION>': String.raw`TLSv\d\.\d`,
  '<TAG_VALUE>': String.raw`[^\.]+`,
  '<ROUTE_CONFIG_NAME>': String.raw`[\w\-\.\/]+`,
  '<LISTENER_OR_CLUSTER_WITH_NAME>': String.raw`(?:listener|cluster)\..*?`,
};
function expand(re: string): string {
  return re.replace(/<[A-Z_]+>/g, (m) => SUBST[m] ?? m);
}

interface RegexDescriptor { name: string; regex: string; substr: string; negative?: string }
interface TokenDescriptor { name: string; pattern: string }

/** Envoy's default regex descriptors, in declaration order. */
export const DEFAULT_REGEX_DESCRIPTORS: readonly RegexDescriptor[] = [
  // *_rq(_<response_code>)
  { name: T.RESPONSE_CODE, regex: String.raw`_rq(_(\d{3}))$`, substr: '_rq_' },
  // *_rq_(<response_code_class>)xx
  { name: T.RESPONSE_CODE_CLASS, regex: String.raw`_rq_((\d))xx$`, substr: '_rq_' },
  // http.[<stat_prefix>.]dynamodb.table.[<table_name>.]capacity.[<operation_name>.](__partition_id=<id>)
  { name: T.DYNAMO_PARTITION_ID, regex: String.raw`^http\.<TAG_VALUE>\.dynamodb\.table\.<TAG_VALUE>\.capacity\.<TAG_VALUE>(\.__partition_id=(\w{7}))$`, substr: '.dynamodb.table.' },
  // http.[<stat_prefix>.]dynamodb.operation.(<operation_name>.)* or ...table.[<table>.]capacity.(<operation>.)
  { name: T.DYNAMO_OPERATION, regex: String.raw`^http\.<TAG_VALUE>\.dynamodb.(?:operation|table\.<TAG_VALUE>\.capacity)(\.(<TAG_VALUE>))(?:\.|$)`, substr: '.dynamodb.' },
  // http.[<stat_prefix>.]dynamodb.table.(<table_name>.)* or http.[<stat_prefix>.]dynamodb.error.(<table_name>.)*
  { name: T.DYNAMO_TABLE, regex: String.raw`^http\.<TAG_VALUE>\.dynamodb.(?:table|error)\.((<TAG_VALUE>)\.)`, substr: '.dynamodb.' },
  // listener.[<address>.]ssl.ciphers.(<cipher>)
  { name: T.SSL_CIPHER, regex: String.raw`^listener\..*?\.ssl\.ciphers(\.(<CIPHER>))$`, substr: '.ssl.ciphers.' },
  // (listener|cluster).[<name>.]ssl.curves.(<curve>)
  { name: T.SSL_CURVE, regex: String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.curves(\.(<CIPHER>))$`, substr: '.ssl.curves.' },
  // (listener|cluster).[<name>.]ssl.sigalgs.(<algorithm>)
  { name: T.SSL_SIGALG, regex: String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.sigalgs(\.(<CIPHER>))$`, substr: '.ssl.sigalgs.' },
  // (listener|cluster).[<name>.]ssl.versions.(<version>)
  { name: T.SSL_VERSION, regex: String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.versions(\.(<TLS_VERSION>))$`, substr: '.ssl.versions.' },
  // cluster.[<cluster_name>.]ssl.ciphers.(<cipher>)
  { name: T.SSL_CIPHER_SUITE, regex: String.raw`^cluster\.<TAG_VALUE>\.ssl\.ciphers(\.(<CIPHER>))$`, substr: '.ssl.ciphers.' },
  // listener.[<address>.]http.(<stat_prefix>.)*
  { name: T.HTTP_CONN_MANAGER_PREFIX, regex: String.raw`^listener\..*?\.http\.((<TAG_VALUE>)\.)`, substr: '.http.' },
  // listener.<address|stat_prefix>.(worker_<id>.)*, listener_manager.(worker_<id>.)*, server.(worker_<id>.)*
  { name: T.WORKER_ID, regex: String.raw`^(?:listener\.(?:<ADDRESS>|<TAG_VALUE>)\.|server\.|listener_manager\.)worker_((\d+)\.)`, substr: '' },
  // listener.(<address|stat_prefix>.)*, but not "admin"
  { name: T.LISTENER_ADDRESS, regex: String.raw`^listener\.((<ADDRESS>|<TAG_VALUE>)\.)`, substr: '', negative: 'admin' },
  // http.[<stat_prefix>.]rds.(<route_config_name>.)<base_stat>
  { name: T.RDS_ROUTE_CONFIG, regex: String.raw`^http\.<TAG_VALUE>\.rds\.((<ROUTE_CONFIG_NAME>)\.)\w+?$`, substr: '.rds.' },
  // http.[<stat_prefix>.]scoped_rds.(<scoped_route_config_name>.)<base_stat>
  { name: T.SCOPED_RDS_CONFIG, regex: String.raw`^http\.<TAG_VALUE>\.scoped_rds\.((<ROUTE_CONFIG_NAME>)\.)\w+?$`, substr: '.scoped_rds.' },
  // http.[<stat_prefix>.]rbac.(<rules_stat_prefix>.)[policy.<policy_name>.]<base_stat>
  { name: T.RBAC_HTTP_PREFIX, regex: String.raw`^http\.<TAG_VALUE>\.rbac\.((<TAG_VALUE>)\.)(?:policy\.<TAG_VALUE>\.)?\w+$`, substr: '.rbac.' },
  // http.[<stat_prefix>.]rbac.[<rules_stat_prefix>.]policy.(<policy_name>.)<base_stat>
  { name: T.RBAC_POLICY_NAME, regex: String.raw`^http\.<TAG_VALUE>\.rbac\.(?:<TAG_VALUE>\.)?policy\.((<TAG_VALUE>)\.)\w+$`, substr: '.rbac.' },
  // proxy_proto.(<stat_prefix>.)[versions.v<n>.]<base_stat>
  { name: T.PROXY_PROTOCOL_PREFIX, regex: String.raw`^proxy_proto\.((<TAG_VALUE>)\.)(?:versions\.v\d\.)?\w+$`, substr: '' },
  // proxy_proto.[<stat_prefix>.](versions.v<version>.)<base_stat>
  { name: T.PROXY_PROTOCOL_VERSION, regex: String.raw`^proxy_proto\.(?:<TAG_VALUE>\.)?(versions\.v(\d)\.)\w+$`, substr: '.versions.v' },
].map((d) => ({ ...d, regex: expand(d.regex) }));

/** Envoy's default tokenized descriptors ("$" = the tag value, "*" = one token, "**" = any tokens). */
export const DEFAULT_TOKEN_DESCRIPTORS: readonly TokenDescriptor[] = [
  { name: T.MONGO_CALLSITE, pattern: 'mongo.*.collection.*.callsite.$.query.**' },
  { name: T.MONGO_COLLECTION, pattern: 'mongo.*.collection.$.**.query.*' },
  { name: T.MONGO_CMD, pattern: 'mongo.*.cmd.$.**' },
  { name: T.GRPC_BRIDGE_METHOD, pattern: 'cluster.*.grpc.*.$.**' },
  { name: T.HTTP_USER_AGENT, pattern: 'http.*.user_agent.$.**' },
  { name: T.VIRTUAL_CLUSTER, pattern: 'vhost.*.vcluster.$.**' },
  { name: T.FAULT_DOWNSTREAM_CLUSTER, pattern: 'http.*.fault.$.**' },
  { name: T.GRPC_BRIDGE_SERVICE, pattern: 'cluster.*.grpc.$.**' },
  { name: T.TCP_PREFIX, pattern: 'tcp.$.**' },
  { name: T.UDP_PREFIX, pattern: 'udp.$.**' },
  { name: T.CLIENTSSL_PREFIX, pattern: 'auth.clientssl.$.**' },
  { name: T.RATELIMIT_PREFIX, pattern: 'ratelimit.$.**' },
  { name: T.CLUSTER_NAME, pattern: 'cluster.$.**' },
  { name: T.EXT_AUTHZ_PREFIX, pattern: 'cluster.*.ext_authz.$.**' },
  { name: T.EXT_AUTHZ_PREFIX, pattern: 'http.*.ext_authz.$.**' },
  { name: T.HTTP_CONN_MANAGER_PREFIX, pattern: 'http.$.**' },
  { name: T.VIRTUAL_HOST, pattern: 'vhost.$.**' },
  { name: T.MONGO_PREFIX, pattern: 'mongo.$.**' },
  { name: T.ROUTE, pattern: 'vhost.*.route.$.**' },
  { name: T.THRIFT_PREFIX, pattern: 'thrift.$.**' },
  { name: T.REDIS_PREFIX, pattern: 'redis.$.**' },
  { name: T.LOCAL_HTTP_RATELIMIT_PREFIX, pattern: '$.http_local_rate_limit.**' },
  { name: T.LOCAL_NETWORK_RATELIMIT_PREFIX, pattern: 'local_rate_limit.$.**' },
  { name: T.LOCAL_LISTENER_RATELIMIT_PREFIX, pattern: 'listener_local_ratelimit.$.**' },
  { name: T.DNS_FILTER_PREFIX, pattern: 'dns_filter.$.**' },
  { name: T.CONNECTION_LIMIT_PREFIX, pattern: 'connection_limit.$.**' },
  { name: T.RBAC_PREFIX, pattern: '$.rbac.**' },
  { name: T.GOOGLE_GRPC_CLIENT_PREFIX, pattern: 'grpc.$.**' },
];

/** Character ranges [start, end) of the name that extractors claimed. */
type Intervals = number[];

class Context {
  private toks: string[] | undefined;
  constructor(readonly name: string) {}
  tokens(): string[] { return this.toks ??= this.name.split('.'); }
}

abstract class Extractor {
  otherWithSameName = false;
  constructor(readonly name: string, readonly prefix: string) {}
  abstract extract(ctx: Context, tags: Tag[], remove: Intervals): boolean;
}

/** TagExtractorImplBase::extractRegexPrefix. */
export function regexPrefixToken(regex: string): string {
  if (!regex.startsWith('^')) return '';
  for (let i = 1; i < regex.length; i++) {
    const c = regex[i];
    if (!/[A-Za-z0-9_]/.test(c)) {
      if (i > 1) {
        const last = i === regex.length - 1;
        const rest = regex.slice(i);
        if ((!last && (rest.startsWith('\\.') || rest.startsWith('(?=\\.)'))) || (last && c === '$')) return regex.slice(1, i);
      }
      return '';
    }
  }
  return '';
}

/** Translate ECMAScript std::regex syntax Envoy accepts (POSIX bracket classes) into a JS RegExp source. */
export function stdRegexToJs(re: string): string {
  const classes: Record<string, string> = {
    alnum: 'a-zA-Z0-9', alpha: 'a-zA-Z', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f', digit: '0-9', d: '0-9',
    graph: '\\x21-\\x7e', lower: 'a-z', print: '\\x20-\\x7e', punct: '!-\\/:-@\\[-`{-~', space: '\\s', s: '\\s',
    upper: 'A-Z', w: '\\w', xdigit: '0-9A-Fa-f',
  };
  return re.replace(/\[:([a-z]+):\]/g, (m, n: string) => classes[n] ?? m);
}

class RegexExtractor extends Extractor {
  private readonly re: RegExp;
  constructor(name: string, regex: string, readonly substr: string, readonly negative: string, readonly re2Semantics: boolean) {
    super(name, regexPrefixToken(regex));
    this.re = new RegExp(re2Semantics ? regex : stdRegexToJs(regex), 'd');
  }
  extract(ctx: Context, tags: Tag[], remove: Intervals): boolean {
    const s = ctx.name;
    if (this.substr && s.indexOf(this.substr) < 0) return false;
    const m = this.re.exec(s);
    if (!m || !m.indices || m.length < 2) return false;
    const r = m.indices[1];
    if (!r) return false;
    if (this.re2Semantics && r[0] === r[1]) return false;
    let value: string;
    if (m.length > 2) {
      value = m[2] ?? '';
      if (this.re2Semantics && value === '') value = m[1];
    } else {
      value = m[1];
    }
    if (this.negative && value === this.negative) return false;
    tags.push({ name: this.name, value });
    remove.push(r[0], r[1]);
    return true;
  }
}

class TokensExtractor extends Extractor {
  private readonly pattern: string[];
  private readonly matchIndex: number;
  constructor(name: string, pattern: string) {
    const toks = pattern.split('.');
    const first = toks[0];
    super(name, first !== '$' && first !== '*' && first !== '**' ? first : '');
    this.pattern = toks;
    this.matchIndex = Math.max(0, toks.indexOf('$'));
  }
  extract(ctx: Context, tags: Tag[], remove: Intervals): boolean {
    const input = ctx.tokens();
    const st = { start: 0, match: input.length };
    if (!this.search(input, 0, 0, 0, st)) return false;
    const value = input[st.match];
    let start = st.start;
    let end = start + value.length;
    if (st.match < input.length - 1) end++; // the dot after the value
    else if (start > 0) start--; // the dot before a trailing value
    tags.push({ name: this.name, value });
    remove.push(start, end);
    return true;
  }
  private search(input: string[], ii: number, pi: number, ci: number, st: { start: number; match: number }): boolean {
    const pat = this.pattern;
    for (; ii < input.length && pi < pat.length; ii++, pi++) {
      if (pi === this.matchIndex) {
        st.start = ci;
        st.match = ii;
      } else {
        const expected = pat[pi];
        if (expected === '**') {
          if (pi === pat.length - 1) return true;
          pi++;
          for (; ii < input.length; ii++) {
            if (this.search(input, ii, pi, ci, st)) return true;
            ci += input[ii].length + 1;
          }
          return false;
        }
        const tok = input[ii];
        if (expected !== '*' && expected !== tok) return false;
        ci += tok.length + 1;
      }
    }
    return pi === pat.length && ii === input.length;
  }
}

class FixedExtractor extends Extractor {
  constructor(name: string, readonly value: string) { super(name, ''); }
  extract(_ctx: Context, tags: Tag[]): boolean {
    tags.push({ name: this.name, value: this.value });
    return true;
  }
}

function removeIntervals(s: string, iv: Intervals): string {
  if (iv.length === 0) return s;
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < iv.length; i += 2) pairs.push([iv[i], iv[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  for (const [a, b] of pairs) {
    if (a > pos) out += s.slice(pos, a);
    if (b > pos) pos = b;
  }
  return out + s.slice(pos);
}

/**
 * Stats::TagProducerImpl. Built from envoy.config.metrics.v3.StatsConfig (plain form):
 * stats_tags[] ({tag_name, regex} | {tag_name, fixed_value} | {tag_name} naming a
 * default extractor) and use_all_default_tags (default true). cliTags are Envoy's
 * --stats-tag name:value pairs (fixed tags).
 */
export class TagProducer {
  private readonly withoutPrefix: Extractor[] = [];
  private readonly byPrefix = new Map<string, Extractor[]>();
  private readonly byName = new Map<string, Extractor>();
  /** Fixed tags added to every stat. */
  readonly fixedTags: Tag[] = [];

  constructor(statsConfig?: Plain, cliTags: Tag[] = []) {
    const cfg = statsConfig ?? {};
    if (cfg.use_all_default_tags !== false) {
      for (const d of DEFAULT_REGEX_DESCRIPTORS) this.add(new RegexExtractor(d.name, d.regex, d.substr, d.negative ?? '', true));
      for (const d of DEFAULT_TOKEN_DESCRIPTORS) this.add(new TokensExtractor(d.name, d.pattern));
    }
    for (const t of cliTags) { this.add(new FixedExtractor(t.name, t.value)); this.fixedTags.push(t); }
    const specs: Plain[] = Array.isArray(cfg.stats_tags) ? cfg.stats_tags : [];
    specs.forEach((spec, i) => {
      const field = `stats_config.stats_tags[${i}]`;
      const name: string = typeof spec?.tag_name === 'string' ? spec.tag_name : '';
      if (!name) throw new TagConfigError(field + '.tag_name', 'tag_name cannot be empty');
      if (typeof spec.fixed_value === 'string') {
        this.add(new FixedExtractor(name, spec.fixed_value));
        this.fixedTags.push({ name, value: spec.fixed_value });
        return;
      }
      const regex: string = typeof spec.regex === 'string' ? spec.regex : '';
      if (!regex) {
        let found = 0;
        for (const d of DEFAULT_REGEX_DESCRIPTORS) if (d.name === name) { this.add(new RegexExtractor(d.name, d.regex, d.substr, d.negative ?? '', true)); found++; }
        for (const d of DEFAULT_TOKEN_DESCRIPTORS) if (d.name === name) { this.add(new TokensExtractor(d.name, d.pattern)); found++; }
        if (found === 0) throw new TagConfigError(field, `No regex specified for tag specifier and no default regex for name: '${name}'`);
        return;
      }
      try {
        this.add(new RegexExtractor(name, regex, '', '', false));
      } catch (e) {
        throw new TagConfigError(field + '.regex', `Invalid regex '${regex}': ${(e as Error).message}`);
      }
    });
  }

  private add(e: Extractor): void {
    const other = this.byName.get(e.name);
    if (other) { other.otherWithSameName = true; e.otherWithSameName = true; } else this.byName.set(e.name, e);
    if (!e.prefix) this.withoutPrefix.push(e);
    else {
      let list = this.byPrefix.get(e.prefix);
      if (!list) { list = []; this.byPrefix.set(e.prefix, list); }
      list.push(e);
    }
  }

  /** TagProducerImpl::produceTags. */
  produceTags(name: string): TagExtraction {
    const ctx = new Context(name);
    const tags: Tag[] = [];
    const remove: Intervals = [];
    let dup: Set<string> | undefined;
    const run = (e: Extractor) => {
      if (e.otherWithSameName && dup?.has(e.name)) return;
      if (e.extract(ctx, tags, remove) && e.otherWithSameName) (dup ??= new Set()).add(e.name);
    };
    for (const e of this.withoutPrefix) run(e);
    const dot = name.indexOf('.');
    if (dot >= 0) {
      const list = this.byPrefix.get(name.slice(0, dot));
      if (list) for (const e of list) run(e);
    }
    return { extractedName: removeIntervals(name, remove), tags };
  }
}
