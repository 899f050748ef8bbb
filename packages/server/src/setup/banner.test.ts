import { describe, expect, it } from 'vitest';
import { firstStartBanner } from './banner.ts';

const base = {
  url: 'http://127.0.0.1:8314',
  dataDir: '/srv/flotilla-data',
  database: '/srv/flotilla-data/flotilla.db',
};
const lineValue = (banner: string, prefix: string) =>
  banner
    .split('\n')
    .find((l) => l.startsWith(prefix))
    ?.slice(prefix.length);

describe('the first-start banner', () => {
  it('names the URL, the setup code, the admin token and what to do next, each value on its own line', () => {
    const banner = firstStartBanner({ ...base, setupCode: 'ABCD-EFGH-JKMN', adminToken: 'flt_abc' }) as string;
    expect(lineValue(banner, 'url: ')).toBe('http://127.0.0.1:8314/');
    expect(lineValue(banner, 'setup code: ')).toBe('ABCD-EFGH-JKMN');
    expect(lineValue(banner, 'admin token: ')).toBe('flt_abc');
    expect(banner).toContain('Open http://127.0.0.1:8314/ and create the first admin with the setup code');
    expect(banner).toContain('flotilla login --server http://127.0.0.1:8314 --token flt_abc');
    expect(banner).toContain('flotilla token create --admin --data-dir /srv/flotilla-data');
    expect(banner).not.toContain('<');
    expect(banner).not.toContain('other machines');
    const everywhere = firstStartBanner({ ...base, host: '0.0.0.0', setupCode: 'ABCD-EFGH-JKMN', adminToken: null });
    expect(everywhere).toContain("from other machines, use this machine's name or address");
    expect(lineValue(everywhere as string, 'url: ')).toBe('http://127.0.0.1:8314/');
  });

  it('leaves out what this start did not make, and is empty when it made nothing', () => {
    const codeOnly = firstStartBanner({ ...base, setupCode: 'ABCD-EFGH-JKMN', adminToken: null }) as string;
    expect(lineValue(codeOnly, 'setup code: ')).toBe('ABCD-EFGH-JKMN');
    expect(codeOnly).not.toContain('admin token:');
    expect(codeOnly).not.toContain('flotilla login');
    const tokenOnly = firstStartBanner({ ...base, setupCode: null, adminToken: 'flt_abc' }) as string;
    expect(tokenOnly).not.toContain('setup code');
    expect(lineValue(tokenOnly, 'admin token: ')).toBe('flt_abc');
    expect(firstStartBanner({ ...base, setupCode: null, adminToken: null })).toBeNull();
  });

  it('points the recovery command at the store without printing a database password', () => {
    const pg = firstStartBanner({
      ...base,
      database: 'postgres://flotilla:secret@db:5432/flotilla',
      setupCode: null,
      adminToken: 'flt_abc',
    }) as string;
    expect(pg).not.toContain('secret');
    expect(pg).toContain('flotilla token create --admin --database <the postgres:// URL of --database>');
    const elsewhere = firstStartBanner({
      ...base,
      database: '/var/lib/my store/f.db',
      setupCode: null,
      adminToken: 'flt_abc',
    }) as string;
    expect(elsewhere).toContain("flotilla token create --admin --database '/var/lib/my store/f.db'");
  });
});
