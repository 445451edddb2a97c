// Envoy's command-line flags (https://www.envoyproxy.io/docs/envoy/latest/operations/cli).
export interface Options {
  configPath: string;
  configYaml: string;
  mode: 'serve' | 'validate' | 'init_only';
  logLevel: string;
  componentLogLevel: string;
  logPath: string;
  serviceNode: string;
  serviceCluster: string;
  serviceZone: string;
  drainTimeS: number;
  parentShutdownTimeS: number;
  drainStrategy: 'gradual' | 'immediate';
  concurrency: number;
  fileFlushIntervalMsec: number;
  adminAddressPath: string;
  localAddressIpVersion: 'v4' | 'v6';
  allowUnknownStaticFields: boolean;
  rejectUnknownDynamicFields: boolean;
  ignoreUnknownDynamicFields: boolean;
  baseId: number;
  restartEpoch: number;
  version: boolean;
  help: boolean;
}

export class UsageError extends Error {}

export function defaultOptions(): Options {
  return {
    configPath: '', configYaml: '', mode: 'serve', logLevel: 'info', componentLogLevel: '', logPath: '',
    serviceNode: '', serviceCluster: '', serviceZone: '', drainTimeS: 600, parentShutdownTimeS: 900,
    drainStrategy: 'gradual', concurrency: 0, fileFlushIntervalMsec: 1000, adminAddressPath: '',
    localAddressIpVersion: 'v4', allowUnknownStaticFields: false, rejectUnknownDynamicFields: false,
    ignoreUnknownDynamicFields: false, baseId: 0, restartEpoch: 0, version: false, help: false,
  };
}

type Kind = 'string' | 'int' | 'bool';
// flag -> [option key, kind]; accepted but meaningless for remora: hot restart ids, etc.
const FLAGS: Record<string, [keyof Options, Kind]> = {
  '-c': ['configPath', 'string'], '--config-path': ['configPath', 'string'],
  '--config-yaml': ['configYaml', 'string'],
  '--mode': ['mode', 'string'],
  '-l': ['logLevel', 'string'], '--log-level': ['logLevel', 'string'],
  '--component-log-level': ['componentLogLevel', 'string'],
  '--log-path': ['logPath', 'string'],
  '--service-node': ['serviceNode', 'string'],
  '--service-cluster': ['serviceCluster', 'string'],
  '--service-zone': ['serviceZone', 'string'],
  '--drain-time-s': ['drainTimeS', 'int'],
  '--parent-shutdown-time-s': ['parentShutdownTimeS', 'int'],
  '--drain-strategy': ['drainStrategy', 'string'],
  '--concurrency': ['concurrency', 'int'],
  '--file-flush-interval-msec': ['fileFlushIntervalMsec', 'int'],
  '--admin-address-path': ['adminAddressPath', 'string'],
  '--local-address-ip-version': ['localAddressIpVersion', 'string'],
  '--allow-unknown-static-fields': ['allowUnknownStaticFields', 'bool'],
  '--reject-unknown-dynamic-fields': ['rejectUnknownDynamicFields', 'bool'],
  '--ignore-unknown-dynamic-fields': ['ignoreUnknownDynamicFields', 'bool'],
  '--base-id': ['baseId', 'int'],
  '--restart-epoch': ['restartEpoch', 'int'],
  '--version': ['version', 'bool'],
  '-h': ['help', 'bool'], '--help': ['help', 'bool'],
};
// Flags Envoy has that only matter for its hot restart or logging internals: accepted, no effect.
const IGNORED_WITH_VALUE = new Set(['--log-format', '--base-id-path', '--socket-path', '--socket-mode']);
const IGNORED_BOOL = new Set(['--disable-hot-restart', '--use-dynamic-base-id', '--enable-fine-grain-logging',
  '--log-format-escaped', '--enable-core-dump', '--disable-extensions', '--cpuset-threads']);

export function parseArgs(argv: string[]): Options {
  const o = defaultOptions();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { inline = a.slice(eq + 1); a = a.slice(0, eq); }
    if (IGNORED_BOOL.has(a)) continue;
    if (IGNORED_WITH_VALUE.has(a)) { if (inline === undefined) i++; continue; }
    const spec = FLAGS[a];
    if (!spec) throw new UsageError(`unknown flag: ${argv[i]}`);
    const [key, kind] = spec;
    if (kind === 'bool') { (o as unknown as Record<string, unknown>)[key] = inline === undefined ? true : inline !== 'false'; continue; }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new UsageError(`flag ${a} needs a value`);
    if (kind === 'int') {
      if (!/^-?\d+$/.test(v)) throw new UsageError(`flag ${a}: expected an integer, got "${v}"`);
      (o as unknown as Record<string, unknown>)[key] = parseInt(v, 10);
    } else (o as unknown as Record<string, unknown>)[key] = v;
  }
  if (!['serve', 'validate', 'init_only'].includes(o.mode)) throw new UsageError(`--mode: expected serve, validate or init_only, got "${o.mode}"`);
  if (!['gradual', 'immediate'].includes(o.drainStrategy)) throw new UsageError(`--drain-strategy: expected gradual or immediate`);
  if (!['trace', 'debug', 'info', 'warn', 'warning', 'error', 'critical', 'off'].includes(o.logLevel)) {
    throw new UsageError(`--log-level: invalid level "${o.logLevel}"`);
  }
  return o;
}

export const USAGE = `USAGE: remora [-c <path>] [--config-yaml <yaml>] [--mode serve|validate|init_only]
              [-l|--log-level trace|debug|info|warning|error|critical|off]
              [--component-log-level <name:level,...>] [--log-path <path>]
              [--service-node <id>] [--service-cluster <name>] [--service-zone <zone>]
              [--drain-time-s <s>] [--drain-strategy gradual|immediate] [--concurrency <n>]
              [--admin-address-path <path>] [--version]

remora speaks Envoy's v3 API: -c takes any Envoy v3 bootstrap file (YAML or JSON).
Subcommands (issue 5): remora iptables ...`;
