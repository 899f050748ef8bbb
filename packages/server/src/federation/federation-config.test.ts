import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { resolveServerConfig } from '../config/config.ts';
import { ConfigError } from '../errors.ts';

describe('federation options of flotilla server', () => {
  const token = `flc_${'a'.repeat(43)}`;

  it('is off without --provider-url, and refuses its other options alone', () => {
    expect(resolveServerConfig({}, {}).federation).toBeNull();
    expect(() => resolveServerConfig({ providerEnvironment: 'prod' }, {})).toThrow(ConfigError);
  });

  it('takes the token from the environment and the key from a file', () => {
    const dir = makeTempDir('flotilla-fed-config-');
    writeFileSync(join(dir, 'provider.pem'), 'PEM');
    const config = resolveServerConfig(
      { providerUrl: 'http://127.0.0.1:8314/', providerEnvironment: 'test', providerKey: 'provider.pem' },
      { FLOTILLA_PROVIDER_TOKEN: token, FLOTILLA_PROVIDER_REPORT_INTERVAL: '10s' },
      dir,
    );
    expect(config.federation).toEqual({
      providerUrl: 'http://127.0.0.1:8314',
      token,
      environment: 'test',
      providerKeyPem: 'PEM',
      reportIntervalMs: 10_000,
    });
  });

  it('refuses a missing or foreign token, a bad URL and a missing key file', () => {
    expect(() => resolveServerConfig({ providerUrl: 'http://127.0.0.1:1' }, {})).toThrow(/provider-token/);
    expect(() => resolveServerConfig({ providerUrl: 'http://127.0.0.1:1', providerToken: 'flt_x' }, {})).toThrow(
      /flc_/,
    );
    expect(() => resolveServerConfig({ providerUrl: 'ftp://x', providerToken: token }, {})).toThrow(/provider-url/);
    expect(() =>
      resolveServerConfig(
        { providerUrl: 'http://127.0.0.1:1', providerToken: token, providerKey: '/nonexistent.pem' },
        {},
      ),
    ).toThrow(/provider-key/);
  });
});
