import semver from 'semver';

/** A version or constraint that cannot be read; the server answers it as 400 `invalid`. */
export class VersionSyntaxError extends Error {
  readonly code = 'invalid';
}

// Version parsing, constraints and Opvic-style classification for drift. Versions are compared on
// every numeric part (`4.5.0.5` > `4.5.0`), then by semver prerelease rules; build metadata is ignored.

export interface Version {
  /** The text as given (trimmed), e.g. `v4.5.0.5`. */
  original: string;
  /** Normalised form: at least three numeric parts, no `v`, e.g. `1.8.0`, `4.5.0.5`, `1.2.0-rc.1`. */
  normalized: string;
  parts: number[];
  prerelease: string[];
  build: string[];
}

const maxVersionLength = 128;
const maxConstraintLength = 256;
const maxTerms = 32;
const ident = '[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*';
// Like hashicorp/go-version: `v` optional, 1-6 numeric parts, `-pre` or a letter-led `pre` without hyphen.
const versionPattern = new RegExp(
  `^[vV]?([0-9]+(?:\\.[0-9]+){0,5})(?:-(${ident})|([A-Za-z][0-9A-Za-z-]*(?:\\.[0-9A-Za-z-]+)*))?(?:\\+(${ident}))?$`,
);

/** Parses a version leniently (`v` prefix, partial, four-part, prerelease, build); null when it is not one. */
export function parseVersion(text: string): Version | null {
  if (typeof text !== 'string') return null;
  const original = text.trim();
  if (original.length === 0 || original.length > maxVersionLength) return null;
  const m = versionPattern.exec(original);
  if (!m) return null;
  const parts = (m[1] as string).split('.').map(Number);
  if (parts.some((p) => !Number.isSafeInteger(p))) return null;
  while (parts.length < 3) parts.push(0);
  const pre = m[2] ?? m[3];
  const prerelease = pre ? pre.split('.') : [];
  const build = m[4] ? m[4].split('.') : [];
  if (prerelease.some((p) => p === '') || build.some((p) => p === '')) return null;
  const normalized =
    parts.join('.') +
    (prerelease.length ? `-${prerelease.join('.')}` : '') +
    (build.length ? `+${build.join('.')}` : '');
  return { original, normalized, parts, prerelease, build };
}

function toVersion(v: string | Version, what = 'version'): Version {
  if (typeof v !== 'string') return v;
  const parsed = parseVersion(v);
  if (!parsed) throw new VersionSyntaxError(`${what} "${String(v).slice(0, 64)}" is not a version`);
  return parsed;
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^[0-9]+$/.test(a);
  const bn = /^[0-9]+$/.test(b);
  if (an && bn) return Math.sign(Number(a) - Number(b));
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** -1, 0 or 1. Strings that are not versions throw VersionSyntaxError. */
export function compareVersions(a: string | Version, b: string | Version): number {
  const x = toVersion(a);
  const y = toVersion(b);
  for (let i = 0; i < Math.max(x.parts.length, y.parts.length); i++) {
    const d = (x.parts[i] ?? 0) - (y.parts[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.prerelease.length === 0 || y.prerelease.length === 0) {
    return Math.sign(y.prerelease.length - x.prerelease.length); // a release sorts after its prereleases
  }
  for (let i = 0; i < Math.max(x.prerelease.length, y.prerelease.length); i++) {
    const xi = x.prerelease[i];
    const yi = y.prerelease[i];
    if (xi === undefined) return -1;
    if (yi === undefined) return 1;
    const d = compareIdentifiers(xi, yi);
    if (d !== 0) return d;
  }
  return 0;
}

/** Sorted ascending by version; strings that are not versions are dropped. */
export function sortVersions(versions: readonly string[]): string[] {
  return versions
    .map((v) => parseVersion(v))
    .filter((v): v is Version => v !== null)
    .sort(compareVersions)
    .map((v) => v.original);
}

type Op = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~>';
interface Term {
  op: Op;
  v: Version;
}
export interface Constraint {
  text: string;
  /** `hashicorp` (go-version, comma = AND) or `npm` (semver ranges, `||` = OR). */
  syntax: 'hashicorp' | 'npm';
  /** Alternatives (OR) of term lists (AND). */
  sets: Term[][];
}
export interface ConstraintOptions {
  /** Let prerelease versions satisfy constraints that name no prerelease. */
  includePrereleases?: boolean;
}

const hashicorpTerm = /^(=|!=|>=|<=|>|<|~>)?\s*(\S+)$/;

function parseHashicorp(text: string): Term[] {
  const raw = text.split(',').map((t) => t.trim());
  if (raw.length > maxTerms) throw new VersionSyntaxError(`constraint "${text}": more than ${maxTerms} terms`);
  return raw.map((t) => {
    const m = hashicorpTerm.exec(t);
    const v = m ? parseVersion(m[2] as string) : null;
    if (!m || !v) throw new VersionSyntaxError(`constraint "${text}": "${t}" is not an operator and a version`);
    return { op: (m[1] ?? '=') as Op, v };
  });
}

function parseNpm(text: string): Term[][] {
  let range: semver.Range;
  try {
    range = new semver.Range(text, { loose: true });
  } catch {
    throw new VersionSyntaxError(`constraint "${text}" is neither a hashicorp constraint nor an npm range`);
  }
  if (range.set.length > maxTerms)
    throw new VersionSyntaxError(`constraint "${text}": more than ${maxTerms} alternatives`);
  return range.set.map((set) =>
    set.flatMap((c): Term[] => {
      if (c.value === '') return []; // `*`: any version
      const v = parseVersion(c.semver.version) as Version;
      return [{ op: (c.operator || '=') as Op, v }];
    }),
  );
}

/** Parses a constraint; throws VersionSyntaxError naming the problem. Empty or `*` matches every release. */
export function parseConstraint(text: string): Constraint {
  if (typeof text !== 'string') throw new VersionSyntaxError('constraint must be a string');
  const t = text.trim();
  if (t.length > maxConstraintLength)
    throw new VersionSyntaxError(`constraint longer than ${maxConstraintLength} characters`);
  if (t === '' || t === '*') return { text: t, syntax: 'npm', sets: [[]] };
  // `= 1.0` is exact in go-version (npm would read a range 1.0.x), so it goes the hashicorp way too.
  if (t.includes(',') || t.includes('~>') || t.includes('!=') || /^=\s/.test(t)) {
    return { text: t, syntax: 'hashicorp', sets: [parseHashicorp(t)] };
  }
  try {
    return { text: t, syntax: 'npm', sets: parseNpm(t) };
  } catch (err) {
    // A single hashicorp term with a four-part version (`>= 4.5.0.3`) is no npm range.
    const single = hashicorpTerm.exec(t);
    if (single && parseVersion(single[2] as string)) {
      return { text: t, syntax: 'hashicorp', sets: [parseHashicorp(t)] };
    }
    throw err;
  }
}

/** The reason a constraint is refused, or undefined when it is valid. */
export function constraintProblem(text: string): string | undefined {
  try {
    parseConstraint(text);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const sameParts = (a: number[], b: number[]): boolean =>
  a.length === b.length ? a.every((p, i) => p === b[i]) : sameParts(pad(a, b.length), pad(b, a.length));
const pad = (a: number[], n: number) => (a.length >= n ? a : [...a, ...Array<number>(n - a.length).fill(0)]);

function compareOp(op: Op, d: number): boolean {
  switch (op) {
    case '=':
      return d === 0;
    case '!=':
      return d !== 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    default:
      return false;
  }
}

// hashicorp/go-version: a prerelease only matches a term naming a prerelease of the same base.
function prereleaseCheck(v: Version, c: Version): boolean {
  if (v.prerelease.length && c.prerelease.length) return sameParts(v.parts, c.parts);
  return v.prerelease.length === 0;
}

function hashicorpMatch(v: Version, t: Term, includePre: boolean): boolean {
  if (t.op === '=' || t.op === '!=') return compareOp(t.op, compareVersions(v, t.v));
  if (!includePre && !prereleaseCheck(v, t.v)) return false;
  if (t.op !== '~>') return compareOp(t.op, compareVersions(v, t.v));
  if (!includePre && t.v.prerelease.length > 0 && v.prerelease.length === 0) return false;
  if (compareVersions(v, t.v) < 0) return false;
  // `~> 1.2` keeps 1.x, `~> 1.2.3` keeps 1.2.x; `~> 3` (one part) has no upper bound, as in go-version.
  const given = specified(t.v);
  const vp = pad(v.parts, t.v.parts.length);
  for (let i = 0; i < given - 1; i++) if (vp[i] !== t.v.parts[i]) return false;
  return true;
}

// Number of parts written in the constraint (go-version's `si`): `~>3` is 1, `~> 1.2` is 2.
function specified(v: Version): number {
  const m = /^[vV]?([0-9]+(?:\.[0-9]+)*)/.exec(v.original);
  return m ? (m[1] as string).split('.').length : v.parts.length;
}

function npmSetMatch(v: Version, set: Term[], includePre: boolean): boolean {
  if (!set.every((t) => compareOp(t.op, compareVersions(v, t.v)))) return false;
  if (v.prerelease.length === 0 || includePre) return true;
  // npm: a prerelease matches only when a comparator names a prerelease of the same release.
  return set.some((t) => t.v.prerelease.length > 0 && sameParts(t.v.parts, v.parts));
}

/** Whether a version satisfies a constraint (hashicorp or npm syntax). Non-versions never do. */
export function satisfies(
  version: string | Version,
  constraint: string | Constraint,
  options: ConstraintOptions = {},
): boolean {
  const v = typeof version === 'string' ? parseVersion(version) : version;
  if (!v) return false;
  const c = typeof constraint === 'string' ? parseConstraint(constraint) : constraint;
  const pre = options.includePrereleases === true;
  if (c.syntax === 'hashicorp') return c.sets.some((set) => set.every((t) => hashicorpMatch(v, t, pre)));
  return c.sets.some((set) => npmSetMatch(v, set, pre));
}

/** Parsed, de-duplicated versions that pass the constraint (or, without one, every release). */
function candidates(versions: readonly string[], constraint?: string, options: ConstraintOptions = {}): Version[] {
  const c = parseConstraint(constraint ?? '');
  const out: Version[] = [];
  for (const text of versions) {
    const v = parseVersion(text);
    if (!v || !satisfies(v, c, options)) continue;
    if (out.some((o) => compareVersions(o, v) === 0)) continue;
    out.push(v);
  }
  return out.sort(compareVersions);
}

/** Upstream versions parsed, filtered by a constraint and sorted once, for many classifications. */
export interface CandidateList {
  readonly sorted: readonly Version[];
}

export function candidateList(
  versions: readonly string[],
  constraint?: string,
  options: ConstraintOptions = {},
): CandidateList {
  return { sorted: candidates(versions, constraint, options) };
}

/** The highest version (as given) that satisfies the constraint, or null. */
export function latestSatisfying(
  versions: readonly string[],
  constraint?: string,
  options: ConstraintOptions = {},
): string | null {
  return candidates(versions, constraint, options).at(-1)?.original ?? null;
}

export interface Classification {
  /** Highest available version passing the constraint, as given. */
  latest: string | null;
  /** Every newer version, ascending. */
  availableVersions: string[];
  /** Newer majors: the latest release of each, ascending. */
  availableMajors: string[];
  /** Same major, higher minor: all of them, ascending. */
  availableMinors: string[];
  /** Same major and minor, newer: all of them, ascending. */
  availablePatches: string[];
  /** Distinct newer majors. */
  majorsBehind: number;
  /** Distinct newer minors within the running major. */
  minorsBehind: number;
  /** Newer releases within the running major.minor. */
  patchesBehind: number;
}

/** Opvic's classification of the upstream versions newer than the running one (sorted by version). */
export function classify(
  running: string,
  available: readonly string[] | CandidateList,
  constraint?: string,
  options: ConstraintOptions = {},
): Classification {
  const r = toVersion(running, 'running version');
  // A CandidateList was filtered by its own constraint already; `constraint` applies to a plain list.
  const list = 'sorted' in available ? available.sorted : candidates(available, constraint, options);
  const newer = list.filter((v) => compareVersions(v, r) > 0);
  const [major, minor] = r.parts as [number, number];
  const majors = new Map<number, Version>();
  for (const v of newer) if ((v.parts[0] as number) > major) majors.set(v.parts[0] as number, v);
  const minors = newer.filter((v) => v.parts[0] === major && (v.parts[1] as number) > minor);
  const patches = newer.filter((v) => v.parts[0] === major && v.parts[1] === minor);
  const names = (vs: Version[]) => vs.map((v) => v.original);
  return {
    latest: list.at(-1)?.original ?? null,
    availableVersions: names(newer),
    availableMajors: names([...majors.values()]),
    availableMinors: names(minors),
    availablePatches: names(patches),
    majorsBehind: majors.size,
    minorsBehind: new Set(minors.map((v) => v.parts[1])).size,
    patchesBehind: patches.length,
  };
}
