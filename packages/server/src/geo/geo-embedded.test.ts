import { afterEach, describe, expect, it, vi } from 'vitest';

// The embedded database is a default, not a requirement: failures turn geolocation off.
const logger = { warn: vi.fn(), debug: vi.fn() };

afterEach(() => {
  vi.doUnmock('node:module');
  vi.doUnmock('node:fs/promises');
  vi.resetModules();
  logger.warn.mockClear();
});

describe('embedded database unavailable', () => {
  it('turns geolocation off when the package is not installed', async () => {
    vi.doMock('node:module', async (importOriginal) => ({
      ...(await importOriginal<typeof import('node:module')>()),
      createRequire: () => ({
        resolve: () => {
          throw Object.assign(new Error('Cannot find module'), { code: 'MODULE_NOT_FOUND' });
        },
      }),
    }));
    const { openGeoLocator } = await import('./geo.ts');
    const { locator, status } = await openGeoLocator('embedded', logger);
    expect(locator).toBeNull();
    expect(status).toMatch(/^geolocation is off: .*package @ip-location-db\/dbip-city-mmdb is not installed/);
    expect(logger.warn).toHaveBeenCalledWith(status);
  });

  it('turns geolocation off when a file cannot be read', async () => {
    vi.doMock('node:fs/promises', async (importOriginal) => ({
      ...(await importOriginal<typeof import('node:fs/promises')>()),
      readFile: async () => {
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      },
    }));
    const { openGeoLocator } = await import('./geo.ts');
    const { locator, status } = await openGeoLocator(undefined, logger);
    expect(locator).toBeNull();
    expect(status).toMatch(/^geolocation is off: .*dbip-city-ipv[46]\.mmdb: permission denied/);
    expect(logger.warn).toHaveBeenCalledOnce();
  });
});
