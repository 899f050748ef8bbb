import { spawn } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal, readOpenTransaction } from '../journal/journal.ts';
import { agentLayout } from '../layout.ts';
import {
  type BuiltVersion,
  buildVersion,
  freePort,
  keys,
  served,
  startArtifactServer,
  token,
} from './fixtures.test.helper.ts';
import { markedProcesses } from './orphans.ts';
import { updateSteps } from './undo.ts';

const service = 'web';
const driver = join(import.meta.dirname, 'crash-driver.test.helper.ts');
let work: string;
let server: Server;
let url: string;
const key = keys();
const files = new Map<string, string>();
let port: number;
let v1: BuiltVersion;
let v2: BuiltVersion;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'flotilla-crash-'));
  port = await freePort();
  v1 = await buildVersion(work, key.privateKey, service, '1.0.0', port, 'good');
  v2 = await buildVersion(work, key.privateKey, service, '2.0.0', port, 'good');
  files.set(`${service}/1.0.0`, v1.file);
  files.set(`${service}/2.0.0`, v2.file);
  ({ server, url } = await startArtifactServer(files));
});
afterAll(() => {
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

const target = (v: BuiltVersion) => ({ version: v.version, signedManifest: v.signedManifest, signature: v.signature });

function job(dir: string, mode: 'update' | 'recover', crashAt: string) {
  return {
    FLOTILLA_CRASH_DRIVER: JSON.stringify({
      mode,
      dir,
      service,
      url,
      token,
      publicKeyPem: key.publicKeyPem,
      first: target(v1),
      second: target(v2),
      crashAt,
    }),
  };
}

describe('kill -9 during an update, then recovery', () => {
  for (const step of updateSteps) {
    // The new version is kept only once it has passed its health gate (commit begun).
    const expected = step === 'commit' ? '2.0.0' : '1.0.0';
    it(`crash after journaling ${step}:begin ends on ${expected}`, async () => {
      const dir = join(work, step);
      // Asynchronous: the artifact server runs in this process.
      const child = spawn(process.execPath, ['--conditions=@flotilla/source', driver], {
        env: { ...process.env, ...job(dir, 'update', step) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
      expect(signal, stderr).toBe('SIGKILL');
      const s = agentLayout(dir).service(service);
      expect(readOpenTransaction(s.root)?.records.at(-1)).toMatchObject({ step, phase: 'begin' });

      const rec = spawn(process.execPath, ['--conditions=@flotilla/source', driver], {
        env: { ...process.env, ...job(dir, 'recover', step) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      rec.stderr.on('data', (d) => (err += d));
      try {
        await new Promise<void>((resolve, reject) => {
          rec.stdout.on('data', (d) => {
            out += d;
            if (out.includes('\n')) resolve();
          });
          rec.on('exit', (code) => reject(new Error(`recovery exited ${code}: ${err}`)));
        });
        const result = JSON.parse(out) as { action: string; version: string; healthy: boolean };
        expect(result).toMatchObject({
          action: expected === '2.0.0' ? 'committed' : 'rolled-back',
          version: expected,
          healthy: true,
        });
        expect(await served(port)).toBe(expected);
        expect(readlinkSync(s.current)).toBe(join('versions', expected));
        expect(readOpenTransaction(s.root)).toBeNull();
        expect(readJournal(s.journal).at(-1)?.step).toBe(expected === '2.0.0' ? 'committed' : 'rolled-back');
        // Exactly one service process: the one the recovering agent supervises.
        expect(markedProcesses(s.root)).toHaveLength(1);
      } finally {
        rec.kill('SIGTERM');
        await new Promise((r) => rec.once('exit', r));
      }
      expect(markedProcesses(s.root)).toEqual([]);
      expect(await served(port)).toBeNull();
    }, 60_000);
  }
});
