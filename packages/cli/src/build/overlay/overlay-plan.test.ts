import { describe, expect, it } from 'vitest';
import { indexedOverlay, planOverlays } from './overlay-plan.ts';

const label = (tree: number, rel: string) => `t${tree}/${rel}`;

describe('overlay plan', () => {
  it('recognises indexed overlay names', () => {
    expect(indexedOverlay('conf/app.2.conf')).toEqual({ base: 'conf/app.conf', index: 2 });
    expect(indexedOverlay('a.b.10.json')).toEqual({ base: 'a.b.json', index: 10 });
    expect(indexedOverlay('app.02.conf')).toBeUndefined();
    expect(indexedOverlay('app.2.xml')).toBeUndefined();
  });

  it('orders overlays by index numerically, then by settings tree', () => {
    const plans = planOverlays(
      new Set(['conf/app.conf', 'bin/run.sh']),
      [
        ['conf/app.10.conf', 'conf/app.2.conf', 'conf/app.conf'],
        ['conf/app.2.conf', 'conf/app.conf', 'conf/app.conf.defines'],
      ],
      label,
    );
    const app = plans.get('conf/app.conf');
    expect(app?.overlays.map((o) => label(o.tree, o.rel))).toEqual([
      't0/conf/app.conf',
      't1/conf/app.conf',
      't0/conf/app.2.conf',
      't1/conf/app.2.conf',
      't0/conf/app.10.conf',
    ]);
    expect(app?.defines.map((d) => d.rel)).toEqual(['conf/app.conf.defines']);
    expect(plans.has('bin/run.sh')).toBe(false);
  });

  it('adds new files, replaces files that cannot merge, and keeps a numbered name without a base', () => {
    const plans = planOverlays(
      new Set(['bin/run.sh', 'other.1.conf']),
      [
        ['bin/run.sh', 'keys/a.pem', 'new.conf', 'lonely.1.conf', 'other.1.conf'],
        ['new.conf', 'bin/run.sh', 'new.1.conf'],
      ],
      label,
    );
    expect(plans.get('bin/run.sh')).toMatchObject({ existed: true, source: { tree: 1 }, overlays: [] });
    expect(plans.get('keys/a.pem')).toMatchObject({ existed: false, source: { tree: 0 }, overlays: [] });
    expect(plans.get('lonely.1.conf')).toMatchObject({ existed: false, source: { tree: 0 } });
    // a real file of the build tree named like an overlay is merged into, not taken as an overlay
    expect(plans.get('other.1.conf')?.overlays.map((o) => o.rel)).toEqual(['other.1.conf']);
    const added = plans.get('new.conf');
    expect(added?.source).toEqual({ tree: 0, rel: 'new.conf', index: 0 });
    expect(added?.overlays.map((o) => `${o.tree}:${o.rel}`)).toEqual(['1:new.conf', '1:new.1.conf']);
  });

  it('refuses a .defines for a file neither tree has', () => {
    expect(() => planOverlays(new Set(['app.conf']), [['app.1.conf', 'app.1.conf.defines']], label)).toThrow(
      't0/app.1.conf.defines: defines macros of app.1.conf, which neither tree has; overlays take the macros of app.conf',
    );
  });
});
