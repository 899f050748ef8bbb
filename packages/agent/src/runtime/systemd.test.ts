import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { resolveAgentConfig } from './config.ts';
import { installService, unitText } from './systemd.ts';

describe('install-service', () => {
  const config = resolveAgentConfig(
    { server: 'https://fleet.example.com', token: 'flt_secret', dir: '/var/lib/fa', labels: 'zone=a b' },
    {},
  );

  it('writes a unit without secrets and a 0600 env file with every setting', () => {
    const dir = makeTempDir('flotilla-unit-');
    const result = installService(config, {
      exec: ['/usr/bin/node', '/opt/flotilla cli/main.js', 'agent'],
      unitDir: join(dir, 'units'),
      envFile: join(dir, 'etc', 'agent.env'),
      unitName: 'flotilla-agent',
      enable: false,
    });
    const unit = readFileSync(result.unitFile, 'utf8');
    expect(unit).toContain('ExecStart=/usr/bin/node "/opt/flotilla cli/main.js" agent');
    expect(unit).toContain(`EnvironmentFile=${join(dir, 'etc', 'agent.env')}`);
    expect(unit).toContain('Restart=always');
    expect(unit).not.toContain('flt_secret');
    const env = readFileSync(result.envFile, 'utf8');
    expect(env).toContain('FLOTILLA_AGENT_TOKEN="flt_secret"');
    expect(env).toContain('FLOTILLA_AGENT_LABELS="zone=a b"');
    expect(statSync(result.envFile).mode & 0o777).toBe(0o600);
  });

  it('quotes arguments that the unit file would otherwise split', () => {
    const text = unitText({
      exec: ['/bin/x', 'a$b', 'plain'],
      unitDir: '',
      envFile: '/e',
      unitName: 'u',
      enable: false,
    });
    expect(text).toContain('ExecStart=/bin/x "a\\$b" plain');
  });
});
