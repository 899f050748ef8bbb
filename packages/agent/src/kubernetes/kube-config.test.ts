// Where the agent finds the cluster and its credentials: kubeconfig files (contexts, every user form
// it supports, the exec plugin) and the in-cluster service account, whose token rotates.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { DriftAgentConfigError, inClusterConfig, kubeconfigFile } from './kube-config.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-kube-config-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const b64 = (text: string) => Buffer.from(text).toString('base64');
function kubeconfig(users: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'config');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'prod',
          cluster: { server: 'https://prod.example:6443/', 'certificate-authority-data': b64('CA PEM') },
        },
        {
          name: 'dev',
          cluster: { server: 'https://10.0.0.1', 'insecure-skip-tls-verify': true, 'tls-server-name': 'api.dev' },
        },
      ],
      users: Object.entries(users).map(([name, user]) => ({ name, user })),
      contexts: Object.keys(users).map((name) => ({
        name,
        context: { cluster: name === 'dev' ? 'dev' : 'prod', user: name },
      })),
      'current-context': Object.keys(users)[0],
      ...extra,
    }),
  );
  return file;
}

describe('kubeconfigFile', () => {
  it("uses the current context, or the one asked for, with that cluster's server and trust", async () => {
    const file = kubeconfig({ admin: { token: 'admin-token' }, dev: { username: 'u', password: 'p' } });
    const prod = await kubeconfigFile(file);
    expect(prod).toMatchObject({ server: 'https://prod.example:6443', rejectUnauthorized: true });
    expect(String(prod.ca)).toBe('CA PEM');
    expect(await prod.credentials()).toEqual({ authorization: 'Bearer admin-token' });
    const dev = await kubeconfigFile(file, 'dev');
    expect(dev).toMatchObject({ server: 'https://10.0.0.1', rejectUnauthorized: false, servername: 'api.dev' });
    expect(await dev.credentials()).toEqual({ authorization: `Basic ${b64('u:p')}` });
  });

  it('reads client certificates inline or from files, relative to the kubeconfig', async () => {
    writeFileSync(join(dir, 'client.crt'), 'CERT FILE');
    writeFileSync(join(dir, 'client.key'), 'KEY FILE');
    writeFileSync(join(dir, 'ca.crt'), 'CA FILE');
    const file = kubeconfig(
      {
        inline: { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        files: { 'client-certificate': 'client.crt', 'client-key': 'client.key' },
      },
      { clusters: [{ name: 'prod', cluster: { server: 'https://p', 'certificate-authority': 'ca.crt' } }] },
    );
    const inline = await (await kubeconfigFile(file)).credentials();
    expect([String(inline.cert), String(inline.key), inline.authorization]).toEqual(['CERT', 'KEY', undefined]);
    const files = await kubeconfigFile(file, 'files');
    expect(String(files.ca)).toBe('CA FILE');
    const fromFiles = await files.credentials();
    expect([String(fromFiles.cert), String(fromFiles.key)]).toEqual(['CERT FILE', 'KEY FILE']);
  });

  it('reads a tokenFile again once it is a minute old (rotated tokens)', async () => {
    writeFileSync(join(dir, 'token'), 'first\n');
    const config = await kubeconfigFile(kubeconfig({ sa: { tokenFile: 'token' } }));
    expect(await config.credentials()).toEqual({ authorization: 'Bearer first' });
    writeFileSync(join(dir, 'token'), 'second\n');
    expect(await config.credentials()).toEqual({ authorization: 'Bearer first' });
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 61_000);
    expect(await config.credentials()).toEqual({ authorization: 'Bearer second' });
  });

  it('runs an exec credential plugin with its args and env, and reuses its token until it expires', async () => {
    const script = join(dir, 'plugin.sh');
    const calls = join(dir, 'calls');
    writeFileSync(
      script,
      `#!/bin/sh
echo "$1 $PLUGIN_ENV $KUBERNETES_EXEC_INFO" >> "${calls}"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token","expirationTimestamp":"'"$EXPIRES"'"}}'
`,
    );
    chmodSync(script, 0o755);
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: './plugin.sh',
      args: ['get-token'],
      env: [
        { name: 'PLUGIN_ENV', value: 'set' },
        { name: 'EXPIRES', value: expires },
      ],
    };
    const config = await kubeconfigFile(kubeconfig({ cloud: { exec } }));
    expect(await config.credentials()).toEqual({ authorization: 'Bearer exec-token' });
    expect(await config.credentials()).toEqual({ authorization: 'Bearer exec-token' });
    const lines = () => readFileSync(calls, 'utf8').trim().split('\n');
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(
      /^get-token set \{"apiVersion":"client.authentication.k8s.io\/v1","kind":"ExecCredential"/,
    );
    // Past its expiry (less a margin), or refused by the server, it runs again.
    vi.spyOn(Date, 'now').mockReturnValue(Date.parse(expires) - 5_000);
    await config.credentials();
    expect(lines()).toHaveLength(2);
    config.invalidate();
    await config.credentials();
    expect(lines()).toHaveLength(3);
  });

  it('says why an exec plugin failed, or answered nothing usable', async () => {
    const script = join(dir, 'bad.sh');
    writeFileSync(script, '#!/bin/sh\necho "no credentials for you" >&2\nexit 1\n');
    chmodSync(script, 0o755);
    const empty = join(dir, 'empty.sh');
    writeFileSync(empty, '#!/bin/sh\necho \'{"status":{}}\'\n');
    chmodSync(empty, 0o755);
    const v1beta1 = 'client.authentication.k8s.io/v1beta1';
    const file = kubeconfig({
      bad: { exec: { apiVersion: v1beta1, command: script } },
      empty: { exec: { apiVersion: v1beta1, command: empty } },
    });
    await expect((await kubeconfigFile(file)).credentials()).rejects.toThrow(/bad.sh failed: no credentials for you/);
    await expect((await kubeconfigFile(file, 'empty')).credentials()).rejects.toThrow(
      /neither a token nor a client certificate/,
    );
  });

  it('refuses what it cannot use with a clear error', async () => {
    const refused = (file: string, context?: string) => expect(kubeconfigFile(file, context)).rejects;
    await refused(join(dir, 'missing')).toThrow(/missing does not exist/);
    const file = kubeconfig({
      gke: { 'auth-provider': { name: 'gcp', config: {} } },
      old: { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } },
    });
    await refused(file).toThrow(/legacy gcp auth-provider, which is not supported: use an exec credential plugin/);
    await refused(file, 'old').toThrow(/exec apiVersion "client.authentication.k8s.io\/v1alpha1" is not one of/);
    await refused(file, 'nope').toThrow(/has no context named "nope"/);
    await refused(file, 'nope').toBeInstanceOf(DriftAgentConfigError);
  });
});

describe('inClusterConfig', () => {
  it('uses the service host, its CA and the mounted token, read again as it rotates', async () => {
    writeFileSync(join(dir, 'token'), 'sa-1');
    writeFileSync(join(dir, 'ca.crt'), 'CLUSTER CA');
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '8443' };
    const config = inClusterConfig(dir, env);
    expect(config).toMatchObject({ server: 'https://[fd00::1]:8443', rejectUnauthorized: true });
    expect(String(config.ca)).toBe('CLUSTER CA');
    expect(await config.credentials()).toEqual({ authorization: 'Bearer sa-1' });
    writeFileSync(join(dir, 'token'), 'sa-2');
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 61_000);
    expect(await config.credentials()).toEqual({ authorization: 'Bearer sa-2' });
    expect(() => inClusterConfig(dir, {})).toThrow(/KUBERNETES_SERVICE_HOST is not set/);
  });
});
