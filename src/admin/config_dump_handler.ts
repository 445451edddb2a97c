// /config_dump (source/server/admin/config_dump_handler.cc). The provider returns the
// whole ConfigDump in proto-JSON form; ?name_regex=, ?resource= and ?mask= are applied
// here with Envoy's semantics:
//  - name_regex: RE2 full match against each resource's name; resources of every section
//    whose name does not match are dropped (the bootstrap section is left alone);
//  - resource=<field>: the first config whose message has that field supplies the result;
//    a repeated field's elements become the configs (each typed with the element's proto
//    type), a singular field answers 400, no config with the field answers 404;
//  - mask=<paths>: a FieldMask; with resource it is applied to every element and may reach
//    through the element's Any field, without resource it trims each top-level config.
import { RE2JS } from 're2js';
import { lookupType, typeUrlOf } from '../config/protos';
import type { AdminProviders, AdminResponse, HandlerContext, UrlHandler } from './types';
import { json, text } from './types';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

interface FieldInfo { repeated: boolean; typeUrl?: string }

function schemaField(typeUrl: unknown, field: string): FieldInfo | undefined {
  if (typeof typeUrl !== 'string') return undefined;
  try {
    const t = lookupType(typeUrl);
    const f = t?.fields[field];
    if (!f) return undefined;
    f.resolve();
    const rt = f.resolvedType;
    const full = rt && 'fields' in rt ? rt.fullName.replace(/^\./, '') : undefined;
    return { repeated: f.repeated, typeUrl: full ? typeUrlOf(full) : undefined };
  } catch {
    return undefined;
  }
}

interface MaskTree { [field: string]: MaskTree }

function maskTree(paths: string[]): MaskTree {
  const root: MaskTree = {};
  for (const p of paths) {
    let node = root;
    for (const frag of p.split('.')) {
      if (frag === '') continue;
      node = node[frag] ??= {};
    }
  }
  return root;
}

/** FieldMaskUtil::TrimMessage on plain JSON; an object's '@type' is always kept. */
function trim(msg: Obj, tree: MaskTree): Obj {
  const out: Obj = {};
  if (typeof msg['@type'] === 'string') out['@type'] = msg['@type'];
  for (const [k, v] of Object.entries(msg)) {
    const sub = tree[k];
    if (!sub) continue;
    out[k] = isObj(v) && Object.keys(sub).length > 0 ? trim(v, sub) : v;
  }
  return out;
}

function parseMask(mask: string): string[] {
  return mask.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** trimResourceMessage: paths starting at an Any-typed field are applied inside the Any. */
function trimResource(msg: Obj, paths: string[]): Obj {
  const outer: string[] = [];
  const inner: string[] = [];
  let anyField: string | undefined;
  for (const path of paths) {
    const frags = path.split('.');
    const v = msg[frags[0]];
    if (isObj(v) && typeof v['@type'] === 'string' && (anyField === undefined || anyField === frags[0])) {
      anyField = frags[0];
      outer.push(frags[0]);
      if (frags.length > 1) inner.push(frags.slice(1).join('.'));
    } else {
      outer.push(path);
    }
  }
  let m = msg;
  if (anyField !== undefined && inner.length > 0) m = { ...msg, [anyField]: trim(msg[anyField] as Obj, maskTree(inner)) };
  return trim(m, maskTree(outer));
}

function resourceName(el: Obj): string | undefined {
  if (typeof el.name === 'string') return el.name;
  for (const v of Object.values(el)) {
    if (isObj(v) && typeof v['@type'] === 'string') {
      if (typeof v.name === 'string') return v.name;
      if (typeof v.cluster_name === 'string') return v.cluster_name;
    }
  }
  return undefined;
}

function filterByName(config: Obj, matches: (name: string) => boolean): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(config)) {
    if (Array.isArray(v) && v.some(isObj)) {
      out[k] = v.filter((el) => {
        if (!isObj(el)) return true;
        const n = resourceName(el);
        return n === undefined || matches(n);
      });
    } else {
      out[k] = v;
    }
  }
  return out;
}

function dumpJson(configs: unknown[]): AdminResponse {
  // An empty ConfigDump prints as "{}" (proto3 JSON omits empty repeated fields).
  return json(configs.length === 0 ? {} : { configs });
}

export function configDumpHandlers(p: AdminProviders): UrlHandler[] {
  const handler = (ctx: HandlerContext): AdminResponse => {
    const q = ctx.query;
    const resource = q.nonEmpty('resource');
    const mask = q.nonEmpty('mask');
    const nameRegex = q.nonEmpty('name_regex');
    const includeEds = q.has('include_eds');
    let nameMatch: ((n: string) => boolean) | undefined;
    if (nameRegex !== undefined) {
      let re: RE2JS;
      try { re = RE2JS.compile(nameRegex); } catch (e) {
        return text(`Error while parsing name_regex: ${(e as Error).message}\n`, 400);
      }
      nameMatch = (n) => re.testExact(n);
    }
    const dump = p.configDump({ includeEds }) as Obj;
    let configs: Obj[] = Array.isArray(dump?.configs) ? (dump.configs as unknown[]).filter(isObj) : [];
    if (nameMatch) configs = configs.map((c) => filterByName(c, nameMatch!));

    if (resource !== undefined) {
      for (const config of configs) {
        const info = schemaField(config['@type'], resource);
        const value = config[resource];
        if (!info && value === undefined) continue;
        if ((info && !info.repeated) || (!info && !Array.isArray(value))) {
          return text(`${resource} is not a repeated field. Use ?mask=${resource} to get only this field`, 400);
        }
        const elements = Array.isArray(value) ? value.filter(isObj) : [];
        const paths = mask !== undefined ? parseMask(mask) : undefined;
        const out = elements.map((el) => {
          const body = paths ? trimResource(el, paths) : el;
          const { ['@type']: _ignored, ...rest } = body;
          return info?.typeUrl ? { '@type': info.typeUrl, ...rest } : body;
        });
        return dumpJson(out);
      }
      return text(`${resource} not found in config dump`, 404);
    }

    if (mask !== undefined) {
      const tree = maskTree(parseMask(mask));
      configs = configs.map((c) => trim(c, tree));
    }
    return dumpJson(configs);
  };
  return [{
    prefix: '/config_dump', help: 'dump current Envoy configs (experimental)', mutatesState: false, handler,
    params: [
      { id: 'resource', help: 'The resource to dump' },
      {
        id: 'mask', help: 'The mask to apply. When both resource and mask are specified, the mask is applied to every element in the desired repeated field so that only a subset of fields are returned. The mask is parsed as a ProtobufWkt::FieldMask',
      },
      { id: 'name_regex', help: 'Dump only the currently loaded configurations whose names match the specified regex. Can be used with both resource and mask query parameters.' },
      { id: 'include_eds', help: 'Dump currently loaded configuration including EDS. See the response definition for more information' },
    ],
  }];
}
