import { MEASUREMENT, VALUE_FIELD } from './line-protocol.ts';
import { toSnakeCase } from './snake-case.ts';

/** What a continuous query does, in a form that survives InfluxDB's rewriting of the statement. */
export interface CqShape {
  select: string;
  into: string;
  from: string;
  groupBy: string;
}

export interface ContinuousQuery {
  name: string;
  /** The CREATE statement to run. */
  statement: string;
  shape: CqShape;
}

const WEEK = 7 * 24 * 3600_000;
const UNITS: [number, string][] = [
  [WEEK, 'w'],
  [24 * 3600_000, 'd'],
  [3600_000, 'h'],
  [60_000, 'm'],
  [1000, 's'],
];

/** Formats a duration the way InfluxQL prints it back (90m stays 90m, 120m becomes 2h, 7d becomes 1w). */
export function formatInfluxDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new Error(`invalid query period ${ms} ms: need a positive integer`);
  for (const [size, unit] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** Double-quoted InfluxQL identifier; InfluxDB stores the CQ with quotes only where needed. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/["\\]/g, '\\$&')}"`;
}

function cq(db: string, name: string, into: string, period: string, tag?: string): ContinuousQuery {
  const groupBy = tag === undefined ? `time(${period})` : `time(${period}), ${tag}`;
  const statement =
    `CREATE CONTINUOUS QUERY ${quoteIdent(name)} ON ${quoteIdent(db)} BEGIN ` +
    `SELECT count(${quoteIdent(VALUE_FIELD)}) AS total INTO ${quoteIdent(into)} FROM ${quoteIdent(MEASUREMENT)} ` +
    `GROUP BY time(${period})${tag === undefined ? '' : `, ${quoteIdent(tag)}`} END`;
  return { name, statement, shape: { select: `count(${VALUE_FIELD}) as total`, into, from: MEASUREMENT, groupBy } };
}

/**
 * upgrade-responder's three down-sampling queries, then one per schema tag key
 * (`cq_by_<key>_down_sampling`). A tag whose query name is taken by a built-in one is skipped.
 */
export function continuousQueries(db: string, periodMs: number, tagKeys: readonly string[]): ContinuousQuery[] {
  const period = formatInfluxDuration(periodMs);
  const out = [
    cq(db, 'cq_upgrade_request_down_sampling', 'upgrade_request_down_sampling', period),
    cq(db, 'cq_by_app_version_down_sampling', 'by_app_version_down_sampling', period, 'app_version'),
    cq(db, 'cq_by_country_code_down_sampling', 'by_country_code_down_sampling', period, 'country_isocode'),
  ];
  const names = new Set(out.map((q) => q.name));
  for (const key of tagKeys) {
    const tag = toSnakeCase(key);
    const name = `cq_by_${tag}_down_sampling`;
    if (tag === '' || tag === 'time' || names.has(name)) continue;
    names.add(name);
    out.push(cq(db, name, `by_${tag}_down_sampling`, period, tag));
  }
  return out;
}

// Splits on `sep` outside double quotes, e.g. `db.autogen."a.b"` or `time(1h), "key"`.
function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] ?? '';
    if (ch === '\\' && quoted) {
      current += ch + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  parts.push(current.trim());
  return parts;
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') && s.length >= 2 ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

/**
 * Reads back a stored definition from SHOW CONTINUOUS QUERIES, which InfluxDB rewrites
 * (`INTO db.autogen.x`, `AS`, quotes only where needed). Undefined if it has another form.
 */
export function parseCqShape(query: string): CqShape | undefined {
  const m = /\sBEGIN\s+SELECT\s+(.+?)\s+INTO\s+(.+?)\s+FROM\s+(.+?)\s+GROUP\s+BY\s+(.+?)\s+END\s*$/is.exec(query);
  if (!m) return undefined;
  const last = (s: string) => unquote(splitOutsideQuotes(s, '.').at(-1) ?? '');
  return {
    select: (m[1] ?? '').replaceAll('"', '').replace(/\s+/g, ' ').toLowerCase(),
    into: last(m[2] ?? ''),
    from: last(m[3] ?? ''),
    groupBy: splitOutsideQuotes(m[4] ?? '', ',')
      .map(unquote)
      .join(', '),
  };
}

/** Human-readable differences, e.g. `GROUP BY time(1h), app_version → time(2h), app_version`. */
export function describeCqChange(stored: CqShape | undefined, wanted: CqShape, storedText: string): string[] {
  if (!stored) return [`unrecognised definition: ${storedText}`];
  const changes: string[] = [];
  if (stored.select !== wanted.select) changes.push(`SELECT ${stored.select} → ${wanted.select}`);
  if (stored.into !== wanted.into) changes.push(`INTO ${stored.into} → ${wanted.into}`);
  if (stored.from !== wanted.from) changes.push(`FROM ${stored.from} → ${wanted.from}`);
  if (stored.groupBy !== wanted.groupBy) changes.push(`GROUP BY ${stored.groupBy} → ${wanted.groupBy}`);
  return changes;
}
