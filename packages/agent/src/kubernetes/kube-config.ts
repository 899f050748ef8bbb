// Where the cluster is and how to authenticate: the in-cluster service account or a kubeconfig file
// (current or named context; token, token file, client certificate, basic auth, exec plugin). Kept to
// what the agent needs so it does not load a generated client of ~1,000 modules.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

export class DriftAgentConfigError extends Error {
  override name = 'DriftAgentConfigError';
}

/** What a request needs beyond the server's trust: a header and/or a client certificate. */
export interface KubeCredentials {
  authorization?: string;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface KubeConfig {
  /** The API server, without a trailing slash. */
  server: string;
  ca?: string | Buffer;
  /** false only for insecure-skip-tls-verify. */
  rejectUnauthorized: boolean;
  servername?: string;
  /** Fresh credentials for the next request (tokens rotate; exec credentials expire). */
  credentials(): Promise<KubeCredentials>;
  /** The server refused the credentials (401): the next call gets new ones. */
  invalidate(): void;
}

export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Bound service account tokens rotate; client-go re-reads the file every minute too. */
const tokenReloadMs = 60_000;

/** A token read from a file, read again once it is a minute old. */
function tokenFromFile(file: string): () => string {
  let token = '';
  let readAt = 0;
  return () => {
    if (!token || Date.now() - readAt > tokenReloadMs) {
      token = readFileSync(file, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
}

export function inClusterConfig(dir = serviceAccountDir, env = process.env): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new DriftAgentConfigError('not running in a cluster: KUBERNETES_SERVICE_HOST is not set');
  const token = tokenFromFile(`${dir}/token`);
  token();
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${dir}/ca.crt`),
    rejectUnauthorized: true,
    credentials: async () => ({ authorization: `Bearer ${token()}` }),
    invalidate: () => {},
  };
}

type Json = Record<string, unknown>;
const obj = (value: unknown): Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
const named = (list: unknown, name: string, what: string, file: string): Json => {
  const found = (Array.isArray(list) ? list : []).map(obj).find((e) => e.name === name);
  if (!found) throw new DriftAgentConfigError(`kubeconfig: ${file} has no ${what} named "${name}"`);
  return obj(found[what]);
};

/** Reads a kubeconfig file (YAML or JSON) for its current context, or the given one. */
export async function kubeconfigFile(file: string, context?: string): Promise<KubeConfig> {
  let doc: Json;
  try {
    // Loaded only here: in a cluster, the agent never parses YAML.
    const { parse } = await import('yaml');
    doc = obj(parse(readFileSync(file, 'utf8')));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (error as Error).message;
    throw new DriftAgentConfigError(`kubeconfig: ${file} ${why}`);
  }
  const contextName = context ?? str(doc['current-context']);
  if (!contextName) throw new DriftAgentConfigError(`kubeconfig: ${file} has no current-context (pass --context)`);
  const ctx = named(doc.contexts, contextName, 'context', file);
  const clusterName = str(ctx.cluster);
  if (!clusterName) throw new DriftAgentConfigError(`kubeconfig: context "${contextName}" names no cluster`);
  const cluster = named(doc.clusters, clusterName, 'cluster', file);
  const user = str(ctx.user) ? named(doc.users, str(ctx.user) as string, 'user', file) : {};
  const base = dirname(resolve(file));
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const data = (inline: unknown, ref: unknown): Buffer | undefined => {
    if (str(inline)) return Buffer.from(str(inline) as string, 'base64');
    if (str(ref)) return readFileSync(path(str(ref) as string));
    return undefined;
  };
  const server = str(cluster.server)?.replace(/\/+$/, '');
  if (!server || !/^https?:\/\//.test(server)) {
    throw new DriftAgentConfigError(`kubeconfig: cluster "${clusterName}" has no http(s) server URL`);
  }
  if (user['auth-provider'] !== undefined) {
    const provider = str(obj(user['auth-provider']).name) ?? 'auth-provider';
    throw new DriftAgentConfigError(
      `kubeconfig: user of context "${contextName}" uses the legacy ${provider} auth-provider, which is not supported: use an exec credential plugin (e.g. gke-gcloud-auth-plugin, kubelogin)`,
    );
  }
  const ca = data(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = data(user['client-certificate-data'], user['client-certificate']);
  const key = data(user['client-key-data'], user['client-key']);
  const token = str(user.token);
  const tokenFile = str(user.tokenFile) ? tokenFromFile(path(str(user.tokenFile) as string)) : undefined;
  const basic =
    str(user.username) !== undefined
      ? `Basic ${Buffer.from(`${user.username}:${str(user.password) ?? ''}`).toString('base64')}`
      : undefined;
  const exec = user.exec === undefined ? undefined : execCredentials(obj(user.exec), base, cluster);
  const config: KubeConfig = {
    server,
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    async credentials() {
      const fromExec = exec ? await exec.get() : {};
      const authorization =
        fromExec.authorization ??
        (token ? `Bearer ${token}` : tokenFile ? `Bearer ${tokenFile()}` : undefined) ??
        basic;
      return {
        ...(authorization ? { authorization } : {}),
        ...((fromExec.cert ?? cert) ? { cert: fromExec.cert ?? cert } : {}),
        ...((fromExec.key ?? key) ? { key: fromExec.key ?? key } : {}),
      };
    },
    invalidate: () => exec?.invalidate(),
  };
  if (ca) config.ca = ca;
  if (str(cluster['tls-server-name'])) config.servername = str(cluster['tls-server-name']) as string;
  return config;
}

const execApiVersions = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** The exec credential plugin: runs the command, caches its answer until expirationTimestamp. */
function execCredentials(exec: Json, base: string, cluster: Json) {
  const apiVersion = str(exec.apiVersion) ?? '';
  if (!execApiVersions.includes(apiVersion)) {
    throw new DriftAgentConfigError(`kubeconfig: exec apiVersion "${apiVersion}" is not one of ${execApiVersions}`);
  }
  const command = str(exec.command);
  if (!command) throw new DriftAgentConfigError('kubeconfig: exec has no command');
  // A relative path with a slash is relative to the kubeconfig's folder; a bare name is looked up in PATH.
  const file = command.includes('/') && !isAbsolute(command) ? resolve(base, command) : command;
  const args = (Array.isArray(exec.args) ? exec.args : []).map(String);
  const env: Record<string, string | undefined> = { ...process.env };
  for (const entry of Array.isArray(exec.env) ? exec.env.map(obj) : []) {
    if (str(entry.name)) env[entry.name as string] = String(entry.value ?? '');
  }
  const spec: Json = { interactive: false };
  if (exec.provideClusterInfo === true) {
    spec.cluster = { server: cluster.server, 'certificate-authority-data': cluster['certificate-authority-data'] };
  }
  env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion, kind: 'ExecCredential', spec });
  let cached: { value: KubeCredentials; until: number } | undefined;
  let running: Promise<KubeCredentials> | undefined;
  const run = async (): Promise<KubeCredentials> => {
    const { execFile } = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
    const stdout = await new Promise<string>((done, fail) => {
      execFile(file, args, { env, timeout: 60_000, maxBuffer: 1024 * 1024 }, (error, out, err) => {
        if (error) fail(new Error(`exec credential plugin ${command} failed: ${String(err).trim() || error.message}`));
        else done(out);
      });
    });
    let status: Json;
    try {
      status = obj(obj(JSON.parse(stdout)).status);
    } catch {
      throw new Error(`exec credential plugin ${command} did not print an ExecCredential`);
    }
    const value: KubeCredentials = {};
    if (str(status.token)) value.authorization = `Bearer ${status.token}`;
    if (str(status.clientCertificateData) && str(status.clientKeyData)) {
      value.cert = status.clientCertificateData as string;
      value.key = status.clientKeyData as string;
    }
    if (!value.authorization && !value.cert) {
      throw new Error(`exec credential plugin ${command} returned neither a token nor a client certificate`);
    }
    const expires = Date.parse(str(status.expirationTimestamp) ?? '');
    // Without an expiry the answer is kept until the server refuses it.
    cached = { value, until: Number.isFinite(expires) ? expires - 10_000 : Number.POSITIVE_INFINITY };
    return value;
  };
  return {
    get(): Promise<KubeCredentials> {
      if (cached && Date.now() < cached.until) return Promise.resolve(cached.value);
      running ??= run().finally(() => {
        running = undefined;
      });
      return running;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
