import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { underPrefix } from './provider-service.ts';
import { SettingsUrlPrefix } from './schemas.ts';

describe("a consumer's settings URL prefixes", () => {
  it('take a scheme, a host and a directory ending in /', () => {
    for (const ok of ['https://git.acme.example/', 'https://git.acme.example:8443/settings/', 'git://10.0.0.1/acme/']) {
      expect(Value.Check(SettingsUrlPrefix, ok), ok).toBe(true);
    }
    for (const bad of [
      'https://git.acme.example/settings',
      'https://git.acme.example',
      'file:///srv/git/',
      'ssh://git@host/acme/',
      'https://user@host/acme/',
      '/srv/git/',
    ]) {
      expect(Value.Check(SettingsUrlPrefix, bad), bad).toBe(false);
    }
  });

  it('admit only URLs inside them, whatever git would resolve', () => {
    const prefix = 'https://git.acme.example/settings/';
    expect(underPrefix('https://git.acme.example/settings/web.git', prefix)).toBe(true);
    expect(underPrefix('HTTPS://GIT.ACME.EXAMPLE/settings/web.git', prefix)).toBe(true);
    for (const bad of [
      'https://git.acme.example/settings-internal/web.git',
      'https://git.acme.example/settings/../ops/secrets.git',
      'https://git.acme.example/settings/%2e%2e/ops.git',
      'https://git.acme.example/settings/..%2fops.git',
      'https://git.acme.example/settings/x\\..\\ops.git',
      'https://git.acme.example:444/settings/web.git',
      'http://git.acme.example/settings/web.git',
      'https://user:pw@git.acme.example/settings/web.git',
      'https://git.acme.example.evil.example/settings/web.git',
      'https://git.acme.example/settings/web.git?x=1',
      'file:///settings/web.git',
      'not a url',
    ]) {
      expect(underPrefix(bad, prefix), bad).toBe(false);
    }
  });
});
