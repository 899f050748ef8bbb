import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { runCli } from './run-cli.test.helper.ts';

describe('flotilla private-file commands', () => {
  let server: TestServer;
  const cfg = makeTempDir('flotilla-cfg-');
  const dir = makeTempDir('flotilla-private-');
  const run = (args: string[]) =>
    runCli(args, { env: { FLOTILLA_SERVER: server.url, FLOTILLA_TOKEN: adminToken, XDG_CONFIG_HOME: cfg } });
  const ok = async (args: string[]) => {
    const r = await run(args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    await ok(['service', 'create', 'web']);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('puts, lists and removes a private file; refuses a file over 1 MiB before sending it', async () => {
    const file = join(dir, 'license.key');
    writeFileSync(file, 'licensed to acme\n');
    const sha = createHash('sha256').update('licensed to acme\n').digest('hex');
    expect(await ok(['private-file', 'put', 'web', 'conf/license.key', file])).toBe(
      `stored web conf/license.key (17 B, sha256 ${sha.slice(0, 12)}…), encrypted\n`,
    );
    const listed = (await ok(['private-file', 'list', 'web'])).split('\n');
    expect(listed[0]).toMatch(/^PATH\s+SIZE\s+SHA256\s+UPDATED\s+BY$/);
    expect(listed[1]).toMatch(new RegExp(`^conf/license\\.key\\s+17 B\\s+${sha.slice(0, 12)}\\s+\\d{4}-`));
    const json = JSON.parse(await ok(['private-file', 'ls', 'web', '--json']));
    expect(json).toEqual([expect.objectContaining({ path: 'conf/license.key', size: 17, sha256: sha })]);
    expect(JSON.stringify(json)).not.toContain('licensed to acme');

    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(1024 * 1024 + 1));
    const refused = await run(['private-file', 'put', 'web', 'big.bin', big]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('at most 1 MiB');

    expect(await ok(['private-file', 'rm', 'web', 'conf/license.key'])).toBe('removed web conf/license.key\n');
    expect(await ok(['private-file', 'list', 'web'])).toBe('service "web" has no private files\n');
    const gone = await run(['private-file', 'rm', 'web', 'conf/license.key']);
    expect(gone.status).not.toBe(0);
    expect(gone.stderr).toContain('has no private file');
  });
});
