import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { driftCheckSource } from '../../../scripts/generate-drift-check.ts';
import { driftSchemaProblems, VersionTracker } from './drift.ts';
import { Check } from './drift-tracker-check.generated.ts';

const examples = new URL('../../../deploy/kubernetes/examples/', import.meta.url);
const seedTrackers = readdirSync(examples)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(new URL(f, examples), 'utf8')).map((d) => d.toJS() as object));

// biome-ignore lint/suspicious/noExplicitAny: variants poke at any field of a parsed document
type Doc = Record<string, any>;
const variants = (doc: Doc): Array<[string, unknown]> => {
  const copy = () => structuredClone(doc) as Doc;
  const set = (change: (d: Doc) => void) => {
    const d = copy();
    change(d);
    return d;
  };
  return [
    ['as is', copy()],
    ['no kind', set((d) => delete d.kind)],
    ['another kind', set((d) => (d.kind = 'Deployment'))],
    ['an unknown top-level field', set((d) => (d.extra = 1))],
    ['an unknown spec field', set((d) => (d.spec.extra = 1))],
    ['a strategy outside the enum', set((d) => (d.spec.resources.strategy = 'Pod'))],
    ['a name of 254 characters', set((d) => (d.metadata.name = 'a'.repeat(254)))],
    ['a name of 253 characters', set((d) => (d.metadata.name = 'a'.repeat(253)))],
    ['a namespace with capitals', set((d) => (d.spec.resources.namespaces = ['Kube-System']))],
    ['a number for the name', set((d) => (d.spec.name = 7))],
    ['an array for the spec', set((d) => (d.spec = []))],
  ];
};

describe('the generated VersionTracker check', () => {
  it('is what scripts/generate-drift-check.ts writes (run npm run generate:drift-check)', () => {
    const committed = readFileSync(new URL('./drift-tracker-check.generated.ts', import.meta.url), 'utf8');
    expect(committed).toBe(driftCheckSource());
  });

  it("agrees with the schema on the seed's trackers and on every variant of them", () => {
    expect(seedTrackers.length).toBeGreaterThanOrEqual(4);
    let refused = 0;
    for (const tracker of seedTrackers) {
      for (const [what, doc] of variants(tracker as Doc)) {
        const schemaSays = driftSchemaProblems(VersionTracker, doc).length === 0;
        expect(Check(doc), `${(tracker as Doc).metadata.name}: ${what}`).toBe(schemaSays);
        if (!schemaSays) refused++;
      }
      expect(Check(tracker)).toBe(true);
    }
    expect(refused).toBeGreaterThan(seedTrackers.length * 5);
  });

  it('counts code points as the schema does for length limits', () => {
    const tracker = structuredClone(seedTrackers[0]) as Doc;
    tracker.spec.remoteVersion ??= { provider: 'github', strategy: 'releases', repo: 'o/r' };
    for (const n of [1024, 1025]) {
      tracker.spec.remoteVersion.extraction = { regex: { pattern: '𝔸'.repeat(n) } };
      expect(Check(tracker)).toBe(driftSchemaProblems(VersionTracker, tracker).length === 0);
    }
    tracker.spec.remoteVersion.extraction = { regex: { pattern: '𝔸'.repeat(1024) } };
    expect(Check(tracker)).toBe(true);
  });
});
