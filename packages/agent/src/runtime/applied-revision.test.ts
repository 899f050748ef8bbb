import { readFileSync, writeFileSync } from 'node:fs';
import type { DesiredStatement } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { AppliedRevision, withRefusal } from './applied-revision.ts';

const statement = (revision: number, environment = 'production', profile: string | null = null): DesiredStatement => ({
  environment,
  profile,
  revision,
  services: [],
  issuedAt: '2026-03-01T10:00:00.000Z',
  expiresAt: '2026-03-01T11:00:00.000Z',
});

describe('the highest applied desired revision', () => {
  it('an older revision than the applied one is refused, also after a restart', () => {
    const dir = makeTempDir('flotilla-applied-');
    const applied = new AppliedRevision(dir);
    applied.accept(statement(5));
    applied.accept(statement(5));
    applied.accept(statement(7));
    expect(() => applied.accept(statement(6))).toThrow(/revision 6, older than revision 7 this agent already applied/);
    expect(JSON.parse(readFileSync(applied.file, 'utf8'))).toEqual({
      environment: 'production',
      profile: null,
      revision: 7,
    });
    const restarted = new AppliedRevision(dir);
    expect(restarted.environment).toBe('production');
    expect(() => restarted.accept(statement(3))).toThrow(/older than revision 7/);
    restarted.accept(statement(8));
  });

  it('refuses another environment or profile than the one it follows', () => {
    const applied = new AppliedRevision(makeTempDir('flotilla-applied-'));
    applied.accept(statement(2, 'production', 'edge'));
    expect(() => applied.accept(statement(9, 'test', 'edge'))).toThrow(
      /is for "test" \(profile "edge"\), but this agent follows "production" \(profile "edge"\); if it was moved on purpose, remove/,
    );
    expect(() => applied.accept(statement(9, 'production'))).toThrow(/follows "production" \(profile "edge"\)/);
  });

  it('refuses everything while its file is damaged, naming the file', () => {
    const dir = makeTempDir('flotilla-applied-');
    const first = new AppliedRevision(dir);
    first.accept(statement(4));
    writeFileSync(first.file, '{"environment":"production","revision":"x"}');
    const damaged = new AppliedRevision(dir);
    expect(() => damaged.accept(statement(4))).toThrow(/desired-revision\.json is damaged; remove it/);
  });

  it("puts a refused list's reason on the services it names, and only safe names", () => {
    const reports = [{ service: 'web', version: '1.0.0', state: 'running' as const }];
    expect(withRefusal(reports, null)).toBe(reports);
    const refusal = { reason: 'bad signature on the desired list', services: ['web', 'api', '../etc', 7, 'web'] };
    expect(withRefusal(reports, refusal)).toEqual([
      {
        service: 'web',
        version: '1.0.0',
        state: 'running',
        updateError: 'desired list refused: bad signature on the desired list',
      },
      { service: 'api', updateError: 'desired list refused: bad signature on the desired list' },
    ]);
  });
});
