// Config errors carry the Envoy-style field path of the offending value, e.g.
//   static_resources.clusters[2].lb_policy: unknown enum value "ROUND_ROBN"
// `.message` is the full text (path + ': ' + detail); `.path` and `.detail` are the parts.

export class ConfigError extends Error {
  /** Field path, snake_case proto names, `[i]` for list elements and `[key]` for map entries; '' = the root. */
  readonly path: string;
  /** The message without the path prefix. */
  readonly detail: string;

  constructor(path: string, detail: string) {
    super(path ? path + ': ' + detail : detail);
    this.name = 'ConfigError';
    this.path = path;
    this.detail = detail;
  }
}

/** Append a field name to a path. */
export function joinPath(path: string, field: string): string {
  return path ? path + '.' + field : field;
}

/** The error every extension registry throws for a typed_config whose type it does not know. */
export function unknownTypeError(path: string, typeUrl: string): ConfigError {
  return new ConfigError(path, `unknown type "${typeUrl}"`);
}

/**
 * A field path built while walking a message tree (push/pop of field names, list
 * indexes and map keys); the text is only made when an error needs it.
 */
export class Trail {
  private readonly segs: (string | number)[] = [];

  constructor(private readonly base = '') {}

  /** A field name or a list index. */
  push(seg: string | number): void {
    this.segs.push(seg);
  }

  /** A map key. */
  pushKey(key: string): void {
    this.segs.push('[' + key + ']');
  }

  pop(): void {
    this.segs.pop();
  }

  text(): string {
    let s = this.base;
    for (const x of this.segs) {
      if (typeof x === 'number') s += '[' + x + ']';
      else if (x[0] === '[') s += x;
      else s = s ? s + '.' + x : x;
    }
    return s;
  }
}

/** Path text of a string path or a Trail, with an optional field appended. */
export function pathText(where: string | Trail, field?: string): string {
  const base = typeof where === 'string' ? where : where.text();
  return field === undefined ? base : joinPath(base, field);
}
