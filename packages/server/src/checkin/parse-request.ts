import { Invalid } from '../errors.ts';
import type { CompiledSchema } from './request-schema.ts';
import { isObject } from './request-schema.ts';

export type DropReason = 'not_in_schema' | 'too_long' | 'wrong_type';

export interface DroppedValue {
  kind: 'tag' | 'field' | 'instance_id';
  key: string;
  reason: DropReason;
}

export interface ParsedCheckin {
  appVersion: string;
  tags: Record<string, string>;
  fields: Record<string, string | number | boolean>;
  instanceId: string | null;
  dropped: DroppedValue[];
  /** Set when the request is answered but not stored (upgrade-responder's behaviour for a bad appVersion). */
  notStoredReason: 'app_version_too_long' | 'app_version_missing' | null;
}

const instanceIdMaxLen = 200;

/**
 * Applies upgrade-responder's decision table: wrong JSON types in the string maps are a 400, while
 * values the schema does not allow are dropped (and reported here so the caller can count them).
 */
export function parseCheckin(body: string, schema: CompiledSchema): ParsedCheckin {
  if (!/\S/.test(body)) throw new Invalid('the request body is empty; send a JSON object with "appVersion"');
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (err) {
    throw new Invalid(`the request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(data)) throw new Invalid('the request body must be a JSON object');
  // Go's decoder matches keys without regard to case; unknown keys are ignored.
  // Null-prototype maps, so a key such as __proto__ stays plain data.
  const top: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(data)) top[key.toLowerCase()] = data[key];

  const appVersion = top.appversion ?? '';
  if (typeof appVersion !== 'string') throw new Invalid('"appVersion" must be a string');
  const extraInfo = stringMap(top.extrainfo, 'extraInfo');
  const extraTags = stringMap(top.extrataginfo, 'extraTagInfo');
  const extraFields = top.extrafieldinfo ?? null;
  if (extraFields !== null && !isObject(extraFields)) throw new Invalid('"extraFieldInfo" must be an object or null');

  const dropped: DroppedValue[] = [];
  const tags: Record<string, string> = Object.create(null);
  // Most clients send only extraTagInfo; merging (extraTagInfo winning) is for old ones.
  const tagInput = isEmpty(extraInfo) ? extraTags : { ...extraInfo, ...extraTags };
  for (const key of Object.keys(tagInput)) {
    const value = tagInput[key] as string;
    const rule = schema.tags.get(key);
    if (!rule) dropped.push({ kind: 'tag', key, reason: 'not_in_schema' });
    else if (Buffer.byteLength(value) > (rule.maxLen || 200)) dropped.push({ kind: 'tag', key, reason: 'too_long' });
    else tags[key] = value;
  }
  const fields: Record<string, string | number | boolean> = Object.create(null);
  for (const [key, value] of Object.entries(extraFields ?? {})) {
    const rule = schema.fields.get(key);
    if (!rule) dropped.push({ kind: 'field', key, reason: 'not_in_schema' });
    else if (!matchesType(value, rule.dataType)) dropped.push({ kind: 'field', key, reason: 'wrong_type' });
    else if (typeof value === 'string' && Buffer.byteLength(value) > (rule.maxLen || 200)) {
      dropped.push({ kind: 'field', key, reason: 'too_long' });
    } else fields[key] = value as string | number | boolean;
  }

  let instanceId: string | null = null;
  if (top.instanceid !== undefined && top.instanceid !== null) {
    const id = top.instanceid;
    if (typeof id === 'string' && id.length > 0 && id.length <= instanceIdMaxLen) instanceId = id;
    else
      dropped.push({
        kind: 'instance_id',
        key: 'instanceId',
        reason: typeof id === 'string' ? 'too_long' : 'wrong_type',
      });
  }

  let notStoredReason: ParsedCheckin['notStoredReason'] = null;
  if (appVersion === '') notStoredReason = 'app_version_missing';
  else if (Buffer.byteLength(appVersion) > schema.appVersionMaxLen) notStoredReason = 'app_version_too_long';
  return { appVersion, tags, fields, instanceId, dropped, notStoredReason };
}

/** A JSON null value becomes "", as Go's decoder leaves a map[string]string entry (upgrade-responder stores it empty). */
function stringMap(value: unknown, name: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new Invalid(`"${name}" must be an object of strings or null`);
  let out = value as Record<string, string>;
  for (const [key, v] of Object.entries(value)) {
    if (v === null) {
      if (out === value) out = Object.assign(Object.create(null), value);
      out[key] = '';
    } else if (typeof v !== 'string') {
      throw new Invalid(`"${name}.${key}" must be a string or null, got ${jsonType(v)}`);
    }
  }
  return out;
}

function isEmpty(map: Record<string, string>): boolean {
  for (const _ in map) return false;
  return true;
}

function matchesType(value: unknown, dataType: string): boolean {
  if (dataType === 'float') return typeof value === 'number' && Number.isFinite(value);
  if (dataType === 'boolean') return typeof value === 'boolean';
  return typeof value === 'string';
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
