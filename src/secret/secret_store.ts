// The secret store (Envoy SecretManager): envoy.extensions.transport_sockets.tls.v3.Secret
// resources by name, from the bootstrap (static_resources.secrets) or SDS. Consumers (TLS
// transport sockets) watch a name and are called with the current secret and on every change;
// watching a name the store does not have yet asks the fetcher (the xDS subscription) for it.
//
// Updates are atomic: SdsHandler validates a whole response (validateSecret, plus the kind
// each watcher expects) before update() stores anything. /config_dump shows the secrets with
// every sensitive field (private_key, password, pkcs12, generic_secret.secret, ...) redacted.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Logger } from '../server/context';
import { redactJson } from './redact';

export const SECRET_TYPE = 'envoy.extensions.transport_sockets.tls.v3.Secret';
export const SECRET_TYPE_URL = 'type.googleapis.com/' + SECRET_TYPE;

export const SECRET_KINDS = ['tls_certificate', 'session_ticket_keys', 'validation_context', 'generic_secret', 'validation_context_sds_secret_config'] as const;
export type SecretKind = typeof SECRET_KINDS[number];

export interface SecretEntry {
  readonly name: string;
  /** The oneof `type` member that is set. */
  readonly kind: SecretKind;
  /** Plain Secret (src/config/plain.ts). */
  readonly secret: Plain;
  /** proto3 JSON of the Secret (unredacted; config_dump redacts), when known; built on demand. */
  readonly json: (() => object | undefined) | undefined;
  /** SDS version_info ('' for static secrets). */
  readonly versionInfo: string;
  /** ms since the epoch. */
  readonly lastUpdated: number;
  readonly isStatic: boolean;
}

/** Called with the secret, or undefined when it was removed (SDS removal or TTL expiry). */
export type SecretCallback = (entry: SecretEntry | undefined) => void;

/** How the store asks for secrets it does not have (SDS subscription). */
export interface SecretFetcher {
  subscribe(names: string[]): void;
  unsubscribe(names: string[]): void;
}

interface Watch { cb: SecretCallback; kind: SecretKind | undefined }

export interface SecretUpdate {
  name: string;
  versionInfo: string;
  secret: Plain;
  json?: () => object | undefined;
}

/** The secret's kind; throws ConfigError (path relative to the Secret) when none or several are set. */
export function secretKind(secret: Plain, path = ''): SecretKind {
  const set = SECRET_KINDS.filter((k) => secret?.[k] !== undefined && secret?.[k] !== null);
  if (set.length === 0) throw new ConfigError(path, `secret must set one of ${SECRET_KINDS.join(', ')}`);
  if (set.length > 1) throw new ConfigError(joinPath(path, set[1]), `only one of ${set.join(', ')} may be set`);
  return set[0];
}

function checkDataSource(ds: Plain, path: string): void {
  if (!ds || typeof ds !== 'object') throw new ConfigError(path, 'must be a DataSource');
  const set = ['filename', 'inline_bytes', 'inline_string', 'environment_variable'].filter((k) => ds[k] !== undefined && ds[k] !== null);
  if (set.length === 0) throw new ConfigError(path, 'data source must set one of filename, inline_bytes, inline_string, environment_variable');
}

/** Validate a plain Secret; throws ConfigError whose path is relative to the Secret. */
export function validateSecret(secret: Plain, path = ''): SecretKind {
  if (!secret || typeof secret !== 'object') throw new ConfigError(path, 'secret must be a message');
  if (typeof secret.name !== 'string' || secret.name === '') throw new ConfigError(joinPath(path, 'name'), 'secret name must not be empty');
  const kind = secretKind(secret, path);
  const p = joinPath(path, kind);
  const v = secret[kind];
  if (kind === 'tls_certificate') {
    const hasKey = v.private_key != null || v.private_key_provider != null;
    if (v.certificate_chain != null) checkDataSource(v.certificate_chain, joinPath(p, 'certificate_chain'));
    if (v.private_key != null) checkDataSource(v.private_key, joinPath(p, 'private_key'));
    if (v.pkcs12 != null) checkDataSource(v.pkcs12, joinPath(p, 'pkcs12'));
    if (v.certificate_chain != null && !hasKey) throw new ConfigError(joinPath(p, 'private_key'), 'required when certificate_chain is set');
    if (v.certificate_chain == null && v.private_key != null) throw new ConfigError(joinPath(p, 'certificate_chain'), 'required when private_key is set');
    if (v.certificate_chain == null && v.pkcs12 == null && v.private_key_provider == null) {
      throw new ConfigError(p, 'one of certificate_chain or pkcs12 must be set');
    }
  } else if (kind === 'generic_secret') {
    if (v.secret == null) throw new ConfigError(joinPath(p, 'secret'), 'required');
    checkDataSource(v.secret, joinPath(p, 'secret'));
  } else if (kind === 'validation_context') {
    if (v.trusted_ca != null) checkDataSource(v.trusted_ca, joinPath(p, 'trusted_ca'));
    if (v.crl != null) checkDataSource(v.crl, joinPath(p, 'crl'));
  } else if (kind === 'session_ticket_keys') {
    const keys: Plain[] = Array.isArray(v.keys) ? v.keys : [];
    if (keys.length === 0) throw new ConfigError(joinPath(p, 'keys'), 'at least one key is required');
    keys.forEach((k, i) => checkDataSource(k, `${joinPath(p, 'keys')}[${i}]`));
  }
  return kind;
}

export class SecretStore {
  private readonly secrets = new Map<string, SecretEntry>();
  private readonly watches = new Map<string, Set<Watch>>();
  private fetcher: SecretFetcher | null = null;
  private readonly subscribed = new Set<string>();

  constructor(private readonly log?: Logger) {}

  /** Static secrets (bootstrap static_resources.secrets). Throws ConfigError (path = `path`...). */
  addStatic(secret: Plain, json?: () => object | undefined, path = ''): void {
    const kind = validateSecret(secret, path);
    if (this.secrets.get(secret.name)?.isStatic) throw new ConfigError(joinPath(path, 'name'), `duplicate static secret "${secret.name}"`);
    const e: SecretEntry = { name: secret.name, kind, secret, json, versionInfo: '', lastUpdated: Date.now(), isStatic: true };
    this.secrets.set(e.name, e);
    this.notify(e.name, e);
  }

  get(name: string): SecretEntry | undefined { return this.secrets.get(name); }

  /** Names of the secrets the store holds. */
  names(): string[] { return [...this.secrets.keys()]; }

  /** Names someone watches (static and dynamic). */
  watchedNames(): string[] { return [...this.watches.keys()]; }

  /**
   * Watch a secret. cb runs now when the secret is present, then on every change and on removal.
   * opts.kind: the kind the consumer needs; an SDS update carrying another kind is rejected.
   * Returns the unwatch function.
   */
  watch(name: string, cb: SecretCallback, opts: { kind?: SecretKind } = {}): () => void {
    let set = this.watches.get(name);
    if (!set) { set = new Set(); this.watches.set(name, set); }
    const w: Watch = { cb, kind: opts.kind };
    set.add(w);
    const cur = this.secrets.get(name);
    if (!cur?.isStatic) this.syncSubscriptions();
    if (cur) safeCall(this.log, name, cb, cur);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.watches.get(name);
      if (!s) return;
      s.delete(w);
      if (s.size === 0) this.watches.delete(name);
      this.syncSubscriptions();
    };
  }

  /** Kinds the watchers of `name` expect (to reject an update of another kind). */
  expectedKinds(name: string): SecretKind[] {
    const out: SecretKind[] = [];
    for (const w of this.watches.get(name) ?? []) if (w.kind && !out.includes(w.kind)) out.push(w.kind);
    return out;
  }

  /** Whether `name` is wanted from SDS (watched and not static). */
  isSubscribed(name: string): boolean { return this.subscribed.has(name); }

  /** The SDS subscription used for names the store does not hold statically (null: none). */
  setFetcher(f: SecretFetcher | null): void {
    if (this.fetcher && this.subscribed.size) this.fetcher.unsubscribe([...this.subscribed]);
    this.subscribed.clear();
    this.fetcher = f;
    this.syncSubscriptions();
  }

  private syncSubscriptions(): void {
    const want = new Set<string>();
    for (const name of this.watches.keys()) if (!this.secrets.get(name)?.isStatic) want.add(name);
    const add = [...want].filter((n) => !this.subscribed.has(n));
    const del = [...this.subscribed].filter((n) => !want.has(n));
    for (const n of add) this.subscribed.add(n);
    for (const n of del) this.subscribed.delete(n);
    if (!this.fetcher) return;
    if (add.length) this.fetcher.subscribe(add);
    if (del.length) this.fetcher.unsubscribe(del);
  }

  /**
   * Store already validated dynamic secrets and drop removed ones, then call the watchers
   * of what changed. Static secrets are never replaced or removed by SDS.
   */
  update(entries: SecretUpdate[], removed: string[] = []): void {
    const changed: string[] = [];
    const now = Date.now();
    for (const u of entries) {
      const prev = this.secrets.get(u.name);
      if (prev?.isStatic) { this.log?.warn(`secret ${u.name}: static secret cannot be updated via SDS; update skipped`); continue; }
      if (prev && prev.versionInfo === u.versionInfo && sameJson(prev.secret, u.secret)) continue;
      this.secrets.set(u.name, { name: u.name, kind: secretKind(u.secret), secret: u.secret, json: u.json, versionInfo: u.versionInfo, lastUpdated: now, isStatic: false });
      if (!prev || !sameJson(prev.secret, u.secret)) changed.push(u.name);
    }
    for (const name of removed) {
      const prev = this.secrets.get(name);
      if (!prev || prev.isStatic) continue;
      this.secrets.delete(name);
      changed.push(name);
    }
    for (const name of changed) this.notify(name, this.secrets.get(name));
  }

  private notify(name: string, e: SecretEntry | undefined): void {
    for (const w of [...(this.watches.get(name) ?? [])]) safeCall(this.log, name, w.cb, e);
  }

  /** envoy.admin.v3.SecretsConfigDump fields (proto3 JSON), sensitive fields redacted. */
  configDump(): { static_secrets?: object[]; dynamic_active_secrets?: object[]; dynamic_warming_secrets?: object[] } {
    const stat: object[] = [];
    const active: object[] = [];
    const warming: object[] = [];
    for (const e of this.secrets.values()) {
      const secret = { '@type': SECRET_TYPE_URL, ...redactJson(SECRET_TYPE, (e.json?.() ?? plainSecretJson(e.secret)) as Record<string, unknown>) };
      const lastUpdated = new Date(e.lastUpdated).toISOString();
      if (e.isStatic) stat.push({ name: e.name, last_updated: lastUpdated, secret });
      else active.push({ name: e.name, version_info: e.versionInfo, last_updated: lastUpdated, secret });
    }
    for (const name of this.subscribed) {
      if (!this.secrets.has(name)) warming.push({ name, secret: { '@type': SECRET_TYPE_URL, name } });
    }
    const out: { static_secrets?: object[]; dynamic_active_secrets?: object[]; dynamic_warming_secrets?: object[] } = {};
    if (stat.length) out.static_secrets = stat;
    if (active.length) out.dynamic_active_secrets = active;
    if (warming.length) out.dynamic_warming_secrets = warming;
    return out;
  }
}

function safeCall(log: Logger | undefined, name: string, cb: SecretCallback, e: SecretEntry | undefined): void {
  try { cb(e); } catch (err) { log?.error(`secret ${name}: watcher failed: ${(err as Error).message}`); }
}

function sameJson(a: unknown, b: unknown): boolean {
  try { return JSON.stringify(a, bufferReplacer) === JSON.stringify(b, bufferReplacer); } catch { return false; }
}

function bufferReplacer(_k: string, v: unknown): unknown {
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return Buffer.from((v as { data: number[] }).data).toString('base64');
  return v;
}

/** A best-effort JSON view of a plain Secret (when no proto3 JSON was kept): Buffers as base64. */
function plainSecretJson(secret: Plain): Record<string, unknown> {
  return JSON.parse(JSON.stringify(secret, bufferReplacer)) as Record<string, unknown>;
}
