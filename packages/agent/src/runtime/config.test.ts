import { describe, expect, it } from 'vitest';
import { AgentConfigError, configEnv, resolveAgentConfig } from './config.ts';

describe('resolveAgentConfig', () => {
  it('takes flags over env vars, and applies defaults', () => {
    const config = resolveAgentConfig(
      { server: 'http://a:1/', labels: 'zone=a, rack=12' },
      { FLOTILLA_AGENT_SERVER: 'http://b:2', FLOTILLA_AGENT_TOKEN: 't', FLOTILLA_AGENT_ROLES: 'web=frontend' },
      '/srv',
    );
    expect(config.server).toBe('http://a:1');
    expect(config.token).toBe('t');
    expect(config.dir).toBe('/var/lib/flotilla-agent');
    expect(config.labels).toEqual({ zone: 'a', rack: '12' });
    expect(config.roles).toEqual({ web: 'frontend' });
    expect(config.waitSec).toBe(60);
    expect(config.heartbeatMs).toBe(10_000);
    expect(config.keepVersions).toBe(3);
    expect(config.logBufferBytes).toBe(4 * 1024 * 1024);
    expect(
      resolveAgentConfig({ dir: 'data' }, { FLOTILLA_AGENT_SERVER: 'http://x', FLOTILLA_AGENT_TOKEN: 't' }, '/srv').dir,
    ).toBe('/srv/data');
  });

  it.each([
    [{}, /server: missing/],
    [{ server: 'ftp://x', token: 't' }, /must be an http/],
    [{ server: 'not a url', token: 't' }, /is not a URL/],
    [{ server: 'http://x' }, /token: missing/],
    [{ server: 'http://x', token: 't', labels: 'novalue' }, /labels: "novalue" is not key=value/],
    [{ server: 'http://x', token: 't', wait: '500' }, /wait: "500" is not a whole number from 1 to 120/],
    [{ server: 'http://x', token: 't', keepVersions: '0' }, /keep-versions/],
    [
      { server: 'http://x', token: 't', logBufferMb: '0.5' },
      /log-buffer-mb: "0.5" is not a whole number from 1 to 256/,
    ],
  ])('refuses %j with a message naming the setting', (flags, message) => {
    expect(() => resolveAgentConfig(flags, {})).toThrow(AgentConfigError);
    expect(() => resolveAgentConfig(flags, {})).toThrow(message);
  });

  it('round-trips through its env vars (the launcher hands its settings to the worker this way)', () => {
    const config = resolveAgentConfig(
      {
        server: 'http://x:9',
        token: 'secret',
        dir: '/d',
        labels: 'a=1',
        roles: 'web=fe',
        wait: '30',
        heartbeat: '2',
        logBufferMb: '16',
      },
      {},
    );
    expect(config.logBufferBytes).toBe(16 * 1024 * 1024);
    const again = resolveAgentConfig({}, configEnv(config, 'host-7'));
    expect(again).toEqual({ ...config, instanceId: 'host-7' });
  });

  it('runs Command trackers only when --drift-commands is given or its variable says 1', () => {
    const base = { server: 'http://x', token: 't' };
    expect(resolveAgentConfig(base, {}).driftCommands).toBe(false);
    expect(resolveAgentConfig({ ...base, driftCommands: true }, {}).driftCommands).toBe(true);
    expect(resolveAgentConfig(base, { FLOTILLA_AGENT_DRIFT_COMMANDS: '1' }).driftCommands).toBe(true);
    expect(resolveAgentConfig(base, { FLOTILLA_AGENT_DRIFT_COMMANDS: '0' }).driftCommands).toBe(false);
    expect(() => resolveAgentConfig(base, { FLOTILLA_AGENT_DRIFT_COMMANDS: 'maybe' })).toThrow(
      /drift-commands: "maybe" is not 1 or 0/,
    );
    const on = resolveAgentConfig({ ...base, driftCommands: true }, {});
    expect(resolveAgentConfig({}, configEnv(on)).driftCommands).toBe(true);
  });

  it('listens for the mesh on 0.0.0.0:8081 unless --mesh-listen says where, or off', () => {
    const base = { server: 'http://x', token: 't' };
    expect(resolveAgentConfig(base, {}).meshListen).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(resolveAgentConfig({ ...base, meshListen: '[::1]:9000' }, {}).meshListen).toEqual({
      host: '::1',
      port: 9000,
    });
    expect(resolveAgentConfig(base, { FLOTILLA_AGENT_MESH_LISTEN: 'off' }).meshListen).toBeNull();
    for (const bad of ['8081', 'host:', 'host:70000', ':8081', 'a b:1']) {
      expect(() => resolveAgentConfig({ ...base, meshListen: bad }, {})).toThrow(/mesh-listen: .* is not host:port/);
    }
    const v6 = resolveAgentConfig({ ...base, meshListen: '[::1]:9000' }, {});
    expect(resolveAgentConfig({}, configEnv(v6)).meshListen).toEqual({ host: '::1', port: 9000 });
    const off = resolveAgentConfig({ ...base, meshListen: 'off' }, {});
    expect(resolveAgentConfig({}, configEnv(off)).meshListen).toBeNull();
  });
});
