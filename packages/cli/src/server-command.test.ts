import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--conditions=@flotilla/source', main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20_000,
  });

describe('flotilla server refuses bad configuration at start', () => {
  it('names an unknown flag', () => {
    const r = run(['server', '--prot', '80']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("unknown option '--prot'");
  });

  it('names the file, the field and the fault of a bad response config', () => {
    const dir = makeTempDir('flotilla-cli-');
    const file = join(dir, 'response.json');
    writeFileSync(file, JSON.stringify({ versions: [{ name: 'v1.0.0', releaseDate: 'yesterday', tags: ['latest'] }] }));
    const r = run(['server', '--data-dir', dir, '--port', '0', '--upgrade-response-config', file, '--geodb', 'off']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}: versions[0].releaseDate: "yesterday" is not an RFC 3339 time`);
  });

  it('names the YAML file and key at fault, also from an env var', () => {
    const dir = makeTempDir('flotilla-cli-');
    const file = join(dir, 'flotilla.yaml');
    writeFileSync(file, 'apps:\n  - name: x\n    queryPeriod: often\n');
    const r = run(['server'], { FLOTILLA_CONFIG: file });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}: apps[0].queryPeriod: "often" is not a duration`);
  });

  it('prints every option in --help', () => {
    const r = run(['server', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--upgrade-response-config');
    expect(r.stdout).toContain('FLOTILLA_ADMIN_TOKEN');
  });
});

describe('flotilla server with a broken geolocation file', () => {
  it('refuses to start and names the file', () => {
    const dir = makeTempDir('flotilla-cli-');
    const file = join(dir, 'broken.mmdb');
    writeFileSync(file, 'not a database');
    const r = run(['server', '--data-dir', dir, '--port', '0', '--geodb', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--geodb: `);
    expect(r.stderr).toContain(file);
  });
});
