import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../server/src/db/connection.ts';
import { seedCatalog } from '../../server/src/desired/testing.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { formatDiff, parseAssignments } from './commands/desired.ts';
import { runCli } from './run-cli.test.helper.ts';

// The server runs in this process, so the CLI must run asynchronously (spawnSync would block the server).
function run(args: string[], env: Record<string, string>) {
  return runCli(args, { env });
}

describe('desired helpers', () => {
  it('parses service=version pairs and refuses others', () => {
    expect(parseAssignments(['web=1.0', 'api=2=x'])).toEqual({ web: '1.0', api: '2=x' });
    expect(() => parseAssignments(['web'])).toThrow(/<service>=<version>/);
    expect(() => parseAssignments(['web='])).toThrow(/<service>=<version>/);
  });

  it('formats a diff for people', () => {
    expect(
      formatDiff({
        added: [{ service: 'db', version: '5' }],
        removed: [{ service: 'api', version: '1' }],
        changed: [{ service: 'web', from: '1.0', to: '1.1' }],
      }),
    ).toBe('+ db 5\n- api 1\n~ web 1.0 → 1.1\n');
    expect(formatDiff({ added: [], removed: [], changed: [] })).toBe('(no changes)\n');
  });
});

describe('flotilla env / desired / instance commands', () => {
  let server: TestServer;
  let store: Database;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    store = openDatabase(server.database);
    await seedCatalog(store.db, { web: ['1.0', '1.1'], api: ['1.0'] });
    env = {
      FLOTILLA_SERVER: server.url,
      FLOTILLA_TOKEN: adminToken,
      XDG_CONFIG_HOME: makeTempDir('flotilla-cli-desired-'),
    };
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('creates environments and edits, shows, lists, diffs and rolls back the desired list', async () => {
    expect((await run(['env', 'create', 'test'], env)).stdout).toContain('created environment test');
    const prod = await run(['env', 'create', 'prod', '--requires-tested-in', 'test'], env);
    expect(prod.stdout).toContain('requires versions tested in test');
    const envs = (await run(['env', 'list'], env)).stdout;
    expect(envs).toMatch(/^NAME\s+REVISION\s+REQUIRES TESTED IN\s+CREATED\n/);
    expect(envs).toMatch(/prod\s+0\s+test\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n/);

    const set = await run(['desired', 'set', 'test', 'web=1.0', 'api=1.0', '--comment', 'first'], env);
    expect(set.status).toBe(0);
    expect(set.stdout).toContain('test revision 1 by');
    expect(set.stdout).toMatch(/web\s+1\.0/);
    const second = await run(['desired', 'set', 'test', 'web=1.1', '--remove', 'api'], env);
    expect(second.stdout).toContain('revision 2');

    const show = await run(['desired', 'show', 'test', '--json'], env);
    expect(JSON.parse(show.stdout)).toMatchObject({ revision: 2, versions: { web: '1.1' } });
    const old = await run(['desired', 'show', 'test', '--revision', '1'], env);
    expect(old.stdout).toMatch(/api\s+1\.0/);

    const history = await run(['desired', 'history', 'test'], env);
    const revisions = history.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]);
    expect(revisions).toEqual(['2', '1', '0']);

    const diff = await run(['desired', 'diff', 'test', '1'], env);
    expect(diff.stdout).toContain('revision 1 → 2');
    expect(diff.stdout).toContain('- api 1.0');
    expect(diff.stdout).toContain('~ web 1.0 → 1.1');
    const diffJson = JSON.parse((await run(['desired', 'diff', 'test', '0', '1', '--json'], env)).stdout);
    expect(diffJson.added).toEqual([
      { service: 'api', version: '1.0' },
      { service: 'web', version: '1.0' },
    ]);

    const back = await run(['desired', 'rollback', 'test', '1', '--comment', 'undo'], env);
    expect(back.stdout).toContain('revision 3');
    expect(back.stdout).toContain('undo');
  });

  it('refuses a version not marked tested in words; --verbose adds the request and its status', async () => {
    const gated = await run(['desired', 'set', 'prod', 'web=1.0'], env);
    expect(gated.status).toBe(1);
    expect(gated.stderr).toBe(
      'flotilla: web@1.0 is not marked tested in test (prod only takes versions marked tested there)\n',
    );
    const verbose = await run(['--verbose', 'desired', 'set', 'prod', 'web=1.0'], env);
    expect(verbose.stderr).toBe(
      'flotilla: PATCH /api/v1/environments/prod/desired → 409: web@1.0 is not marked tested in test (prod only takes versions marked tested there)\n',
    );
    const marked = await run(['desired', 'mark-tested', 'test'], env);
    expect(marked.stdout).toContain('api@1.0, web@1.0');
    expect((await run(['desired', 'set', 'prod', 'web=1.0'], env)).status).toBe(0);

    const bad = await run(['desired', 'set', 'test', 'web=9.9'], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('web@9.9');
    expect((await run(['instance', 'list'], env)).stdout).toBe('no instances match\n');
  });
});
