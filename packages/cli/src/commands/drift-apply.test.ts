import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adminToken, startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { registerDriftCommands } from './drift.ts';
import { parseTrackerDocuments } from './drift-apply.ts';

const trackersYaml = `# the nginx example of docs/drift.md
apiVersion: opvic.skillz.com/v1alpha1
kind: VersionTracker
metadata:
  name: nginx
spec:
  name: nginx
  resources:
    strategy: Command
    command: [nginx, -v]
  localVersion:
    extraction:
      regex:
        pattern: nginx/([0-9.]+)
  remoteVersion:
    provider: endoflife
    repo: nginx
---
kind: VersionTracker
metadata: { name: bash }
spec:
  name: bash
  resources: { strategy: Package, package: bash }
---
`;

describe('parseTrackerDocuments', () => {
  it('reads every document, skips empty ones, and names the document of a YAML error', () => {
    const loaded = parseTrackerDocuments(trackersYaml, 't.yaml');
    expect(loaded.origin).toEqual([1, 2]);
    expect(() => parseTrackerDocuments('kind: A\n---\nspec: [unclosed\n', 't.yaml')).toThrow(/t\.yaml: document 2: /);
    expect(() => parseTrackerDocuments('- a\n- b\n', 't.yaml')).toThrow(
      /document 1: expected a VersionTracker mapping/,
    );
    expect(() => parseTrackerDocuments('---\n', 't.yaml')).toThrow(/no VersionTracker documents/);
  });
});

describe('flotilla drift apply and drift trackers', () => {
  let server: TestServer;
  const dir = makeTempDir('flotilla-drift-apply-');

  const run = async (args: string[], stdin?: string) => {
    const program = new Command('flotilla').exitOverride();
    registerDriftCommands(program);
    let out = '';
    const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    const stdinSpy = stdin === undefined ? undefined : vi.spyOn(process, 'stdin', 'get');
    stdinSpy?.mockReturnValue(Readable.from([Buffer.from(stdin ?? '')]) as unknown as typeof process.stdin);
    try {
      await program.parseAsync(['drift', ...args, '--server', server.url, '--token', adminToken], { from: 'user' });
    } finally {
      outSpy.mockRestore();
      stdinSpy?.mockRestore();
    }
    return out;
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    for (const name of ['production', 'staging']) {
      const res = await fetch(`${server.url}/api/v1/environments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('applies a multi-document file, then lists what the environment has', async () => {
    const file = join(dir, 'trackers.yaml');
    writeFileSync(file, trackersYaml);
    expect(await run(['apply', '-f', file, '--env', 'production'])).toBe(
      'tracker/nginx created\ntracker/bash created\n',
    );
    expect(await run(['apply', '-f', file, '--env', 'production'])).toBe(
      'tracker/nginx unchanged\ntracker/bash unchanged\n',
    );
    const table = await run(['trackers', '--env', 'production']);
    expect(table).toMatch(/^NAME\s+SUBJECT\s+STRATEGY\s+READS\s+UPSTREAM/);
    expect(table).toMatch(/nginx\s+nginx\s+Command\s+nginx -v\s+endoflife:nginx/);
    expect(table).toMatch(/bash\s+bash\s+Package\s+bash/);
    const json = JSON.parse(await run(['trackers', '--env', 'production', '--json']));
    expect(json.map((t: { name: string }) => t.name)).toEqual(['bash', 'nginx']);
  });

  it('reads standard input with -f -, and prunes only with --prune', async () => {
    const bashOnly = trackersYaml.split('---\n')[1] as string;
    expect(await run(['apply', '-f', '-', '--env', 'staging'], trackersYaml)).toMatch(/tracker\/bash created/);
    expect(await run(['apply', '-f', '-', '--env', 'staging'], bashOnly)).toBe('tracker/bash unchanged\n');
    expect(await run(['apply', '-f', '-', '--env', 'staging', '--prune'], bashOnly)).toBe(
      'tracker/bash unchanged\ntracker/nginx pruned\n',
    );
  });

  it('names the document and field the server refused', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `${trackersYaml}kind: VersionTracker\nmetadata: { name: coredns }\nspec:\n  name: coredns\n  resources: { strategy: Pods, selector: {} }\n`,
    );
    await expect(run(['apply', '-f', file, '--env', 'production'])).rejects.toThrow(
      /^\S+bad\.yaml: document 3 \(coredns\): spec\.resources\.strategy: "Pods" is not a host strategy: .*custom resources/,
    );
    await expect(run(['apply', '-f', join(dir, 'missing.yaml'), '--env', 'production'])).rejects.toThrow(
      /missing\.yaml: no such file/,
    );
    await expect(run(['apply', '-f', join(dir, 'trackers.yaml'), '--env', 'nowhere'])).rejects.toThrow(
      /no environment "nowhere"/,
    );
  });
});
