import type { CheckinRecord } from '../checkin/record.ts';
import { toSnakeCase } from './snake-case.ts';

export const MEASUREMENT = 'upgrade_request';
/** The dummy field every point carries; the continuous queries count it. */
export const VALUE_FIELD = 'value';

const TAG_APP_VERSION = 'app_version';
const TAG_CITY = 'city';
const TAG_COUNTRY = 'country';
const TAG_COUNTRY_ISO_CODE = 'country_isocode';
// InfluxDB 1.x rejects the whole point when a tag or field is called "time".
const RESERVED_KEY = 'time';

const NEEDS_KEY_ESCAPE = /[,= \\\r\n]/;
const NEEDS_FIELD_KEY_ESCAPE = /[,= "\\\r\n]/;
const NEEDS_MEASUREMENT_ESCAPE = /[, \\\r\n]/;
const UNWRITABLE = /[\r\n]|\\$/;

// InfluxDB 1.x keeps backslashes in names literally (`\\` would be stored doubled), so only the
// delimiters are escaped. A trailing backslash would escape the delimiter after it and cannot be
// written at all, and a newline always ends the line, so those are the only characters changed.
function sanitize(s: string): string {
  return UNWRITABLE.test(s) ? s.replace(/[\r\n]/g, ' ').replace(/\\+$/, '') : s;
}

/** Escapes a tag key or tag value. */
export function escapeTag(s: string): string {
  return NEEDS_KEY_ESCAPE.test(s) ? sanitize(s).replace(/[,= ]/g, '\\$&') : s;
}

/** Escapes a field key; InfluxDB 1.x also unescapes `\"` in field keys, as the Go client writes it. */
export function escapeFieldKey(s: string): string {
  return NEEDS_FIELD_KEY_ESCAPE.test(s) ? sanitize(s).replace(/[,= "]/g, '\\$&') : s;
}

export function escapeMeasurement(s: string): string {
  return NEEDS_MEASUREMENT_ESCAPE.test(s) ? sanitize(s).replace(/[, ]/g, '\\$&') : s;
}

/** A string field value, quoted; newlines are legal inside the quotes. */
export function quoteStringField(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** Formats like Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent. */
export function formatFloat(v: number): string {
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const sign = m[1] ?? '';
  const digits = (m[2] ?? '') + (m[3] ?? '');
  const point = 1 + Number(m[4]);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function fieldValue(v: string | number | boolean): string | undefined {
  if (typeof v === 'string') return quoteStringField(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // JSON cannot carry NaN or Infinity and InfluxDB rejects them; skip rather than lose the point.
  return Number.isFinite(v) ? formatFloat(v) : undefined;
}

/** Epoch milliseconds plus a sub-millisecond offset, as an integer nanosecond string. */
export function nanoseconds(timeMs: number, offsetNs = 0): string {
  // Fast path for the usual case: whole, positive milliseconds and an offset below 1 ms.
  if (Number.isSafeInteger(timeMs) && timeMs > 0 && offsetNs >= 0 && offsetNs < 1_000_000) {
    return `${timeMs}${String(offsetNs).padStart(6, '0')}`;
  }
  const whole = Math.floor(timeMs);
  const frac = Math.round((timeMs - whole) * 1e6) + offsetNs;
  return (BigInt(whole) * 1_000_000n + BigInt(frac)).toString();
}

/** Keys and values kept in step; small enough that linear search beats a Map. */
interface Pairs {
  keys: string[];
  values: string[];
}

function put(pairs: Pairs, key: string, value: string): void {
  const at = pairs.keys.indexOf(key);
  if (at === -1) {
    pairs.keys.push(key);
    pairs.values.push(value);
  } else pairs.values[at] = value;
}

// Appends `key=value` pairs sorted by key (InfluxDB's own order), escaped, skipping what it rejects.
function append(line: string, first: string, pairs: Pairs, escapeKey: (s: string) => string, tag: boolean): string {
  const { keys, values } = pairs;
  const order = keys.map((_, i) => i).sort((a, b) => ((keys[a] ?? '') < (keys[b] ?? '') ? -1 : 1));
  let sep = first;
  for (const i of order) {
    const key = keys[i] ?? '';
    // InfluxDB 1.x rejects the whole point when a tag or field is called "time", or a tag value is empty.
    if (key === RESERVED_KEY) continue;
    const k = escapeKey(key);
    const v = tag ? escapeTag(values[i] ?? '') : values[i];
    if (k === '' || v === '') continue;
    line += `${sep}${k}=${v}`;
    sep = ',';
  }
  return line;
}

/** The tags upgrade-responder writes, in its precedence order: later entries win. */
function recordTags(record: CheckinRecord): Pairs {
  const tags: Pairs = { keys: [TAG_APP_VERSION], values: [record.appVersion] };
  for (const key of Object.keys(record.tags)) put(tags, toSnakeCase(key), record.tags[key] ?? '');
  put(tags, TAG_CITY, record.city);
  put(tags, TAG_COUNTRY, record.country);
  put(tags, TAG_COUNTRY_ISO_CODE, record.countryIsoCode);
  return tags;
}

const MEASUREMENT_ESCAPED = escapeMeasurement(MEASUREMENT);

/**
 * One line of InfluxDB line protocol for a check-in, as upgrade-responder writes it.
 * `offsetNs` (0–999999) keeps points within the same millisecond apart: InfluxDB keeps only
 * the last point per series and timestamp, which would undercount check-ins.
 */
export function recordToLine(record: CheckinRecord, offsetNs = 0): string {
  const fields: Pairs = { keys: [], values: [] };
  for (const key of Object.keys(record.fields)) {
    const raw = record.fields[key];
    const value = raw === undefined ? undefined : fieldValue(raw);
    if (value !== undefined) put(fields, toSnakeCase(key), value);
  }
  // Unlike upgrade-responder, the counting field wins over a client field called "value".
  put(fields, VALUE_FIELD, '1i');
  const line = append(MEASUREMENT_ESCAPED, ',', recordTags(record), escapeTag, true);
  return `${append(line, ' ', fields, escapeFieldKey, false)} ${nanoseconds(record.time, offsetNs)}`;
}
