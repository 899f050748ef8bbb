import type { RequestSchema, ValueSchema } from '@flotilla/protocol';
import { readJsonConfig } from '../config/read-file.ts';
import { ConfigError } from '../errors.ts';

/** upgrade-responder treats an absent or zero maxLen as 200. */
export const defaultMaxLen = 200;

export interface CompiledSchema {
  appVersionMaxLen: number;
  tags: Map<string, ValueSchema>;
  fields: Map<string, ValueSchema>;
}

export const emptySchema: CompiledSchema = { appVersionMaxLen: defaultMaxLen, tags: new Map(), fields: new Map() };

/** Reads a request schema file and applies upgrade-responder's start-up checks, naming the field at fault. */
export function loadRequestSchema(path: string): CompiledSchema {
  return compileRequestSchema(readJsonConfig(path), path);
}

export function compileRequestSchema(data: unknown, source: string): CompiledSchema {
  const fail = (field: string, why: string) => new ConfigError(`${source}: ${field}: ${why}`);
  if (!isObject(data)) throw fail('(top level)', 'must be a JSON object');
  const known = new Set(['appversionschema', 'extrataginfoschema', 'extrafieldinfoschema']);
  for (const key of Object.keys(data)) {
    if (!known.has(key.toLowerCase()))
      throw fail(key, 'unknown key (expected appVersionSchema, extraTagInfoSchema, extraFieldInfoSchema)');
  }
  const get = (name: string) => data[Object.keys(data).find((k) => k.toLowerCase() === name) ?? ''];
  const schema = get('appversionschema') as RequestSchema['appVersionSchema'];
  const appVersion =
    schema === undefined ? { dataType: 'string' as const } : checkValue(schema, 'appVersionSchema', fail);
  if (appVersion.dataType !== 'string') throw fail('appVersionSchema.dataType', 'must be "string"');
  const tags = checkMap(get('extrataginfoschema'), 'extraTagInfoSchema', fail);
  for (const [key, value] of tags) {
    if (value.dataType !== 'string') throw fail(`extraTagInfoSchema.${key}.dataType`, 'tags must be "string"');
  }
  return {
    appVersionMaxLen: appVersion.maxLen || defaultMaxLen,
    tags,
    fields: checkMap(get('extrafieldinfoschema'), 'extraFieldInfoSchema', fail),
  };
}

function checkMap(data: unknown, field: string, fail: (field: string, why: string) => Error): Map<string, ValueSchema> {
  const out = new Map<string, ValueSchema>();
  if (data === undefined || data === null) return out;
  if (!isObject(data)) throw fail(field, 'must be an object of key → {dataType, maxLen}');
  for (const [key, value] of Object.entries(data)) out.set(key, checkValue(value, `${field}.${key}`, fail));
  return out;
}

function checkValue(data: unknown, field: string, fail: (field: string, why: string) => Error): ValueSchema {
  if (!isObject(data)) throw fail(field, 'must be an object like {"dataType": "string", "maxLen": 200}');
  const entries = Object.fromEntries(Object.entries(data).map(([k, v]) => [k.toLowerCase(), v]));
  const dataType = entries.datatype;
  if (dataType !== 'string' && dataType !== 'float' && dataType !== 'boolean') {
    throw fail(`${field}.dataType`, `${JSON.stringify(dataType)} must be "string", "float" or "boolean"`);
  }
  const maxLen = entries.maxlen;
  if (maxLen !== undefined && (typeof maxLen !== 'number' || !Number.isInteger(maxLen) || maxLen < 0)) {
    throw fail(`${field}.maxLen`, `${JSON.stringify(maxLen)} must be a whole number, 0 or more`);
  }
  return maxLen === undefined ? { dataType } : { dataType, maxLen };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
