// SDS: Secret resources into the SecretStore (src/secret/secret_store.ts). The store's
// watchers (TLS transport sockets) decide which names are subscribed.
// Validation first (validateSecret, and the kind every watcher of the name expects); any
// failure NACKs the whole response with `Secret "<name>": <path>: <detail>`. Secrets nobody
// watches are ignored. Removal and TTL expiry remove the secret (watchers are told).
import type { Logger } from '../../server/context';
import { validateSecret, type SecretStore, type SecretUpdate } from '../../secret/secret_store';
import { TYPE, type ResourceHandler, type ResourceUpdate, type XdsClient } from '../types';
import { XdsRejection, checkDuplicates, jsonOf, rejectResource } from './common';

export class SdsHandler implements ResourceHandler {
  constructor(private readonly store: SecretStore, private readonly log: Logger) {}

  /** Route the store's subscriptions to an xDS client. */
  attach(client: XdsClient): void {
    this.store.setFetcher({
      subscribe: (names) => client.subscribe(TYPE.SECRET, names),
      unsubscribe: (names) => client.unsubscribe(TYPE.SECRET, names),
    });
  }

  apply(update: ResourceUpdate): void {
    checkDuplicates('Secret', update.added);
    const accepted: SecretUpdate[] = [];
    for (const r of update.added) {
      if (!this.store.isSubscribed(r.name)) {
        this.log.debug(`sds: ignoring secret "${r.name}": not subscribed`);
        continue;
      }
      let kind;
      try {
        kind = validateSecret(r.resource);
      } catch (e) {
        throw rejectResource('Secret', r.name, e);
      }
      if (r.resource.name !== r.name) throw new XdsRejection(`Secret "${r.name}": name: "${r.resource.name}" does not match the resource name`);
      const want = this.store.expectedKinds(r.name);
      if (want.length > 0 && !want.includes(kind)) {
        throw new XdsRejection(`Secret "${r.name}": ${kind}: the secret is used as ${want.join(' and ')}`);
      }
      accepted.push({ name: r.name, versionInfo: r.version || update.versionInfo, secret: r.resource, json: jsonOf(r) });
    }
    this.store.update(accepted, update.removed.filter((n) => this.store.isSubscribed(n)));
  }

  onExpired(_typeUrl: string, names: string[]): void {
    this.log.warn(`sds: secrets expired (TTL): ${names.join(', ')}`);
    this.store.update([], names);
  }
}
