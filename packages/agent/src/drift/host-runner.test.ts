import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DriftReport, VersionTracker } from '@flotilla/protocol';
import { canonicalJson } from '@flotilla/protocol/canonical-json';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { TrustedKey } from '../update/verify.ts';
import type { DriftTransport, TrackerAnswer } from './drift-client.ts';
import { commandsOffError, type HostDrift, type HostDriftOptions, startHostDrift } from './host-runner.ts';
import { type TrackerStatement, verifyTrackerSet } from './tracker-set.ts';

const work = mkdtempSync(join(tmpdir(), 'flotilla-host-runner-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const keys = generateKeyPairSync('ed25519');
const trust: TrustedKey = { publicKeyPem: keys.publicKey.export({ format: 'pem', type: 'spki' }).toString() };
const hour = 3_600_000;

function signSet(
  trackers: VersionTracker[],
  over: Partial<TrackerStatement> = {},
  key: KeyObject = keys.privateKey,
): { statement: string; signature: string; keyId: string } {
  const at = Date.now();
  const statement = canonicalJson({
    kind: 'flotilla.drift-trackers',
    environment: 'production',
    revision: 'r1',
    trackers,
    issuedAt: new Date(at).toISOString(),
    expiresAt: new Date(at + hour).toISOString(),
    ...over,
  });
  return { statement, signature: sign(null, Buffer.from(statement), key).toString('base64'), keyId: 'k' };
}

const tracker = (name: string, resources: VersionTracker['spec']['resources'], pattern?: string): VersionTracker => ({
  apiVersion: 'opvic.skillz.com/v1alpha1',
  kind: 'VersionTracker',
  metadata: { name },
  spec: {
    name,
    resources,
    ...(pattern ? { localVersion: { extraction: { regex: { pattern } } } } : {}),
    remoteVersion: { provider: 'endoflife', repo: name },
  },
});
const marker = join(work, 'ran');
const nginx = tracker(
  'nginx',
  {
    strategy: 'Command',
    command: [
      process.execPath,
      '-e',
      `require("fs").writeFileSync(${JSON.stringify(marker)}, "x"); console.error("nginx version: nginx/1.25.3")`,
    ],
  },
  'nginx/([0-9.]+)',
);
const versionFile = join(work, 'VERSION');
const app = tracker('app', { strategy: 'File', path: versionFile }, 'v([0-9.]+)');

/** A fake server: serves `set` with an ETag and records every report. */
function fakeServer() {
  const fake = {
    set: signSet([]) as ReturnType<typeof signSet>,
    etag: '"e1"',
    reports: [] as DriftReport[],
    asked: [] as (string | null)[],
    transport: {
      async trackers(etag): Promise<TrackerAnswer> {
        fake.asked.push(etag);
        return etag === fake.etag ? { changed: false } : { changed: true, set: fake.set, etag: fake.etag };
      },
      async report(report) {
        fake.reports.push(structuredClone(report));
      },
    } satisfies DriftTransport,
  };
  return fake;
}

const logged: string[] = [];
const log = { debug() {}, warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };
let running: HostDrift | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
  logged.length = 0;
  rmSync(marker, { force: true });
});

function start(fake: ReturnType<typeof fakeServer>, over: Partial<HostDriftOptions> = {}): HostDrift {
  running = startHostDrift({
    transport: fake.transport,
    trust,
    agentId: 'host-1',
    environment: () => 'production',
    tags: { zone: 'a' },
    services: () => [{ service: 'web', version: '2.1.0' }, { service: 'idle' }],
    log,
    autoStart: false,
    ...over,
  });
  return running;
}

describe('host drift runner', () => {
  it('reports the services Flotilla runs here with no tracker at all', async () => {
    const fake = fakeServer();
    await start(fake).pass();
    expect(fake.reports).toEqual([
      {
        agentId: 'host-1',
        tags: { zone: 'a' },
        complete: true,
        subjects: [
          {
            subject: 'web',
            versions: [
              { runningVersion: '2.1.0', resourceCount: 1, resourceKind: 'FlotillaService', extractedFrom: 'flotilla' },
            ],
            upstream: null,
            error: null,
          },
        ],
      },
    ]);
  });

  it('runs no Command tracker unless started with --drift-commands, and File trackers always', async () => {
    writeFileSync(versionFile, 'release v3.4.5\n');
    const fake = fakeServer();
    fake.set = signSet([nginx, app]);
    await start(fake).pass();
    expect(existsSync(marker)).toBe(false);
    const subjects = fake.reports[0]?.subjects ?? [];
    expect(subjects.map((s) => s.subject)).toEqual(['app', 'nginx', 'web']);
    expect(subjects[0]).toMatchObject({
      versions: [{ runningVersion: '3.4.5', resourceKind: 'File', extractedFrom: versionFile }],
      upstream: { provider: 'endoflife', repo: 'app' },
      error: null,
    });
    expect(subjects[1]).toMatchObject({ versions: [], error: commandsOffError });
    await running?.stop();

    const allowed = fakeServer();
    allowed.set = fake.set;
    await start(allowed, { commands: true }).pass();
    expect(existsSync(marker)).toBe(true);
    expect(allowed.reports[0]?.subjects?.[1]).toMatchObject({
      subject: 'nginx',
      versions: [{ runningVersion: '1.25.3', resourceKind: 'Command' }],
      error: null,
    });
  });

  it('reads Package trackers through dpkg-query', async () => {
    writeFileSync(join(work, 'dpkg-query'), '#!/bin/sh\necho "installed 1.18.0-6"\n');
    chmodSync(join(work, 'dpkg-query'), 0o755);
    const fake = fakeServer();
    fake.set = signSet([tracker('nginx-pkg', { strategy: 'Package', package: 'nginx' })]);
    await start(fake, { evaluation: { path: work } }).pass();
    expect(fake.reports[0]?.subjects?.[0]).toMatchObject({
      subject: 'nginx-pkg',
      versions: [{ runningVersion: '1.18.0-6', resourceKind: 'Package', extractedFrom: 'dpkg:nginx' }],
    });
  });

  it('reports only when the result changed, with a heartbeat in between', async () => {
    writeFileSync(versionFile, 'v1.0.0');
    let clock = 1_000_000;
    const fake = fakeServer();
    fake.set = signSet([app]);
    const drift = start(fake, { now: () => clock, heartbeatMs: 300_000 });
    await drift.pass();
    await drift.pass();
    clock += 60_000;
    await drift.pass();
    expect(fake.reports).toHaveLength(1);
    // The set was fetched once, then asked for with its ETag (a 304).
    expect(fake.asked).toEqual([null, '"e1"', '"e1"']);
    writeFileSync(versionFile, 'v1.0.1');
    await drift.pass();
    expect(fake.reports).toHaveLength(2);
    expect(fake.reports[1]?.subjects?.[0]?.versions[0]?.runningVersion).toBe('1.0.1');
    clock += 299_000;
    await drift.pass();
    expect(fake.reports).toHaveLength(2);
    clock += 1_000;
    await drift.pass();
    expect(fake.reports[2]).toEqual({ agentId: 'host-1', tags: { zone: 'a' } });
  });

  it('keeps reporting after a failed report, and sends the unsent result again', async () => {
    const fake = fakeServer();
    let fail = true;
    const report = fake.transport.report;
    fake.transport.report = async (r) => {
      if (fail) throw new Error('503');
      return report(r);
    };
    const drift = start(fake);
    await drift.pass();
    expect(fake.reports).toHaveLength(0);
    fail = false;
    await drift.pass();
    expect(fake.reports).toHaveLength(1);
    expect(fake.reports[0]?.complete).toBe(true);
  });

  it('refuses a tampered, foreign or expired set: nothing of it runs, the verified set stays', async () => {
    writeFileSync(versionFile, 'v2.0.0');
    const fake = fakeServer();
    fake.set = signSet([app]);
    const drift = start(fake, { commands: true });
    await drift.pass();
    expect(fake.reports[0]?.subjects?.map((s) => s.subject)).toEqual(['app', 'web']);

    const good = signSet([nginx]);
    const bad = [
      // One byte changed after signing: the path of what would run.
      { ...good, statement: good.statement.replace('nginx version', 'nginx versioN') },
      signSet([nginx], {}, generateKeyPairSync('ed25519').privateKey),
      signSet([nginx], { environment: 'staging' }),
      signSet([nginx], { expiresAt: new Date(Date.now() - hour).toISOString() }),
      signSet([nginx], { kind: 'other' as 'flotilla.drift-trackers' }),
      { ...good, signature: '' },
    ];
    for (const [i, set] of bad.entries()) {
      fake.set = set;
      fake.etag = `"bad-${i}"`;
      await drift.pass();
    }
    expect(existsSync(marker)).toBe(false);
    expect(fake.reports).toHaveLength(1);
    expect(logged.join('\n')).toMatch(/bad signature/);
    expect(logged.join('\n')).toMatch(/signed for environment "staging"/);
    expect(logged.join('\n')).toMatch(/expired/);
    expect(logged.join('\n')).toMatch(/not a host tracker set/);
    expect(logged.join('\n')).toMatch(/not signed/);
    // The refused ETag is not kept: the next poll asks for the set again.
    expect(fake.asked.at(-1)).toBe('"e1"');
  });

  it('refuses a signed set holding a Kubernetes tracker', () => {
    const pods = { ...app, spec: { ...app.spec, resources: { strategy: 'Pods' as const, selector: {} } } };
    expect(() => verifyTrackerSet(trust, signSet([pods]))).toThrow(/not a host tracker/);
  });
});
