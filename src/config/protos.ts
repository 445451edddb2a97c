// The Envoy v3 schema, loaded from the protobufjs JSON descriptor that
// scripts/build-protos.js generates at build time from the real .proto files.
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as protobuf from 'protobufjs';

let root: protobuf.Root | undefined;

function descriptorPath(): string {
  // dist/src/config/protos.js -> dist/proto/envoy.json; src/config/protos.ts (tsx) -> dist/proto/envoy.json
  const candidates = [
    path.join(__dirname, '..', '..', 'proto', 'envoy.json'),
    path.join(__dirname, '..', '..', 'dist', 'proto', 'envoy.json'),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error('Envoy proto descriptor not found (run `npm run build:protos`): looked in ' + candidates.join(', '));
}

/** The protobufjs Root holding every Envoy v3 type remora knows. Field names are snake_case (keepCase). */
export function protoRoot(): protobuf.Root {
  if (!root) {
    root = protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(descriptorPath(), 'utf8')));
    root.resolveAll();
  }
  return root;
}

const typeCache = new Map<string, protobuf.Type | null>();

/** Look up a message type by full name ("envoy.config.cluster.v3.Cluster") or type URL. Cached. */
export function lookupType(nameOrUrl: string): protobuf.Type | undefined {
  let t = typeCache.get(nameOrUrl);
  if (t === undefined) {
    t = null;
    const r = protoRoot(); // a missing descriptor is an error, not an unknown type
    try {
      const found = r.lookup(typeNameOf(nameOrUrl));
      if (found instanceof protobuf.Type) t = found;
    } catch {
      t = null;
    }
    if (typeCache.size < 100000) typeCache.set(nameOrUrl, t); // bounded: type URLs come from the network
  }
  return t ?? undefined;
}

export function typeNameOf(nameOrUrl: string): string {
  const slash = nameOrUrl.lastIndexOf('/');
  return slash >= 0 ? nameOrUrl.slice(slash + 1) : nameOrUrl;
}

export function typeUrlOf(name: string): string {
  return name.includes('/') ? name : 'type.googleapis.com/' + name;
}
