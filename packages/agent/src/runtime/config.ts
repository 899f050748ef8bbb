// The agent's configuration: flags first, then FLOTILLA_AGENT_* env vars, then defaults; validated once at start.
import { resolve } from 'node:path';

export interface AgentOptions {
  server?: string;
  token?: string;
  dir?: string;
  labels?: string;
  instanceId?: string;
  signingKey?: string;
  roles?: string;
  wait?: string;
  heartbeat?: string;
  keepVersions?: string;
  logBufferMb?: string;
  /** A switch: `true` from the flag, or the variable's text (1/true/yes, 0/false/no). */
  driftCommands?: string | boolean;
  meshListen?: string;
}

export interface AgentConfig {
  /** Base URL of the control plane, without a trailing slash. */
  server: string;
  token: string;
  dir: string;
  labels: Record<string, string>;
  /** Null: generated once and kept in `<dir>/instance-id`. */
  instanceId: string | null;
  /** A PEM file or PEM text to trust instead of pinning the server's key on first contact. */
  signingKey: string | null;
  /** `%%role%%` per service. */
  roles: Record<string, string>;
  /** How long each long poll of the desired list is held by the server. */
  waitSec: number;
  heartbeatMs: number;
  keepVersions: number;
  /** Bytes of service log lines held in memory for upload while the server is slow or away. */
  logBufferBytes: number;
  /** Host trackers with the Command strategy run only when this is set (`--drift-commands`). */
  driftCommands?: boolean;
  /** Where the mesh node listens when the server switches the mesh on (null: `off`, never a mesh node). */
  meshListen?: { host: string; port: number } | null;
}

export const agentOptionTable: { key: keyof AgentOptions; flag: string; env: string; help: string }[] = [
  {
    key: 'server',
    flag: '--server <url>',
    env: 'FLOTILLA_AGENT_SERVER',
    help: 'the control plane, e.g. https://flotilla.example.com',
  },
  {
    key: 'token',
    flag: '--token <token>',
    env: 'FLOTILLA_AGENT_TOKEN',
    help: 'an agent token (flotilla token create --agent --env <env>)',
  },
  {
    key: 'dir',
    flag: '--dir <path>',
    env: 'FLOTILLA_AGENT_DIR',
    help: 'where services, journals, logs and faults live (default /var/lib/flotilla-agent)',
  },
  {
    key: 'labels',
    flag: '--labels <k=v,...>',
    env: 'FLOTILLA_AGENT_LABELS',
    help: 'labels of this host, for rollout selectors and the fleet view',
  },
  {
    key: 'instanceId',
    flag: '--instance-id <id>',
    env: 'FLOTILLA_AGENT_INSTANCE_ID',
    help: "this host's id (default: generated once, kept in <dir>/instance-id)",
  },
  {
    key: 'signingKey',
    flag: '--signing-key <pem-file>',
    env: 'FLOTILLA_AGENT_SIGNING_KEY',
    help: "trust this public key instead of pinning the server's on first contact",
  },
  {
    key: 'roles',
    flag: '--roles <service=role,...>',
    env: 'FLOTILLA_AGENT_ROLES',
    help: 'the %%role%% macro per service',
  },
  {
    key: 'wait',
    flag: '--wait <seconds>',
    env: 'FLOTILLA_AGENT_WAIT',
    help: 'long-poll hold of the desired list (default 60, at most 120)',
  },
  {
    key: 'heartbeat',
    flag: '--heartbeat <seconds>',
    env: 'FLOTILLA_AGENT_HEARTBEAT',
    help: 'state report interval when nothing changes (default 10)',
  },
  {
    key: 'keepVersions',
    flag: '--keep-versions <n>',
    env: 'FLOTILLA_AGENT_KEEP_VERSIONS',
    help: 'version directories kept per service for fast rollback (default 3)',
  },
  {
    key: 'logBufferMb',
    flag: '--log-buffer-mb <n>',
    env: 'FLOTILLA_AGENT_LOG_BUFFER_MB',
    help: 'MiB of service log lines held in memory while the server is away (default 4, 1 to 256)',
  },
  {
    key: 'driftCommands',
    flag: '--drift-commands',
    env: 'FLOTILLA_AGENT_DRIFT_COMMANDS',
    help: 'run host trackers with the Command strategy (off by default: a tracker from the server then runs a command here; env FLOTILLA_AGENT_DRIFT_COMMANDS=1)',
  },
  {
    key: 'meshListen',
    flag: '--mesh-listen <host:port|off>',
    env: 'FLOTILLA_AGENT_MESH_LISTEN',
    help: "the mesh node's address, used only while the server has the mesh on for this environment (default 0.0.0.0:8081; off: never a mesh node)",
  },
];

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

function pairs(text: string | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const part of text.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new AgentConfigError(`${what}: "${item}" is not key=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

function switchOf(value: string | boolean | undefined, what: string): boolean {
  if (value === undefined || value === true || value === false) return value === true;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new AgentConfigError(`${what}: "${value}" is not 1 or 0 (true or false)`);
}

function integer(text: string | undefined, what: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AgentConfigError(`${what}: "${text}" is not a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Default mesh listen address: canary-bot's listen port, so existing firewall rules keep working. */
export const defaultMeshListen = '0.0.0.0:8081';

function meshListenOf(text: string): { host: string; port: number } | null {
  if (/^off$/i.test(text)) return null;
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const portText = text.slice(colon + 1);
  const port = Number(portText);
  if (colon <= 0 || !host || /[\s/]/.test(host) || !/^[0-9]{1,5}$/.test(portText) || port > 65535) {
    throw new AgentConfigError(`mesh-listen: "${text}" is not host:port (e.g. 0.0.0.0:8081) or off`);
  }
  return { host, port };
}

export function resolveAgentConfig(
  flags: AgentOptions,
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): AgentConfig {
  const opts: AgentOptions = {};
  for (const { key, env: name } of agentOptionTable) {
    const value = flags[key] ?? env[name];
    if (value !== undefined && value !== '') (opts as Record<string, string | boolean>)[key] = value;
  }
  if (!opts.server) throw new AgentConfigError('server: missing (--server or FLOTILLA_AGENT_SERVER)');
  let url: URL;
  try {
    url = new URL(opts.server);
  } catch {
    throw new AgentConfigError(`server: "${opts.server}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AgentConfigError(`server: "${opts.server}" must be an http:// or https:// URL`);
  }
  if (!opts.token) throw new AgentConfigError('token: missing (--token or FLOTILLA_AGENT_TOKEN)');
  return Object.freeze({
    server: url.toString().replace(/\/+$/, ''),
    token: opts.token,
    dir: resolve(cwd, opts.dir ?? '/var/lib/flotilla-agent'),
    labels: pairs(opts.labels, 'labels'),
    instanceId: opts.instanceId ?? null,
    signingKey: opts.signingKey ?? null,
    roles: pairs(opts.roles, 'roles'),
    waitSec: integer(opts.wait, 'wait', 60, 1, 120),
    heartbeatMs: integer(opts.heartbeat, 'heartbeat', 10, 1, 3600) * 1000,
    keepVersions: integer(opts.keepVersions, 'keep-versions', 3, 1, 100),
    logBufferBytes: integer(opts.logBufferMb, 'log-buffer-mb', 4, 1, 256) * 1024 * 1024,
    driftCommands: switchOf(opts.driftCommands, 'drift-commands'),
    meshListen: meshListenOf(opts.meshListen ?? defaultMeshListen),
  });
}

/** The settings as FLOTILLA_AGENT_* variables: for the env file of the systemd unit and for the worker. */
export function configEnv(config: AgentConfig, instanceId = config.instanceId): Record<string, string> {
  const list = (map: Record<string, string>) =>
    Object.entries(map)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  const env: Record<string, string> = {
    FLOTILLA_AGENT_SERVER: config.server,
    FLOTILLA_AGENT_TOKEN: config.token,
    FLOTILLA_AGENT_DIR: config.dir,
    FLOTILLA_AGENT_WAIT: String(config.waitSec),
    FLOTILLA_AGENT_HEARTBEAT: String(config.heartbeatMs / 1000),
    FLOTILLA_AGENT_KEEP_VERSIONS: String(config.keepVersions),
    FLOTILLA_AGENT_LOG_BUFFER_MB: String(config.logBufferBytes / (1024 * 1024)),
  };
  if (Object.keys(config.labels).length > 0) env.FLOTILLA_AGENT_LABELS = list(config.labels);
  if (Object.keys(config.roles).length > 0) env.FLOTILLA_AGENT_ROLES = list(config.roles);
  if (instanceId) env.FLOTILLA_AGENT_INSTANCE_ID = instanceId;
  if (config.signingKey) env.FLOTILLA_AGENT_SIGNING_KEY = config.signingKey;
  if (config.driftCommands) env.FLOTILLA_AGENT_DRIFT_COMMANDS = '1';
  if (config.meshListen === null) env.FLOTILLA_AGENT_MESH_LISTEN = 'off';
  else if (config.meshListen) {
    const { host, port } = config.meshListen;
    env.FLOTILLA_AGENT_MESH_LISTEN = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  return env;
}
