import { describe, expect, it } from 'vitest';
import { Invalid } from '../errors.ts';
import { parseCheckin } from './parse-request.ts';
import { compileRequestSchema } from './request-schema.ts';

const schema = compileRequestSchema(
  {
    appVersionSchema: { dataType: 'string', maxLen: 20 },
    extraTagInfoSchema: { kubernetesVersion: { dataType: 'string', maxLen: 8 }, platform: { dataType: 'string' } },
    extraFieldInfoSchema: {
      nodeCount: { dataType: 'float' },
      enabled: { dataType: 'boolean' },
      note: { dataType: 'string', maxLen: 3 },
    },
  },
  'test-schema.json',
);

describe('parseCheckin', () => {
  it('keeps schema’d tags and fields and reports every dropped value with its reason', () => {
    const parsed = parseCheckin(
      JSON.stringify({
        appVersion: 'v1.2.0',
        extraTagInfo: { kubernetesVersion: 'v1.30', platform: 'linux', unknownTag: 'x' },
        extraFieldInfo: { nodeCount: 3, enabled: 'yes', note: 'toolong', other: 1 },
      }),
      schema,
    );
    expect(parsed.appVersion).toBe('v1.2.0');
    expect(parsed.tags).toEqual({ kubernetesVersion: 'v1.30', platform: 'linux' });
    expect(parsed.fields).toEqual({ nodeCount: 3 });
    expect(parsed.dropped).toEqual([
      { kind: 'tag', key: 'unknownTag', reason: 'not_in_schema' },
      { kind: 'field', key: 'enabled', reason: 'wrong_type' },
      { kind: 'field', key: 'note', reason: 'too_long' },
      { kind: 'field', key: 'other', reason: 'not_in_schema' },
    ]);
    expect(parsed.notStoredReason).toBeNull();
  });

  it('drops a tag longer than its maxLen (bytes, as upgrade-responder counts)', () => {
    const parsed = parseCheckin('{"appVersion":"v1","extraTagInfo":{"kubernetesVersion":"v1.28.10-rke2"}}', schema);
    expect(parsed.tags).toEqual({});
    expect(parsed.dropped).toEqual([{ kind: 'tag', key: 'kubernetesVersion', reason: 'too_long' }]);
  });

  it('merges deprecated extraInfo into the tags, extraTagInfo winning', () => {
    const parsed = parseCheckin(
      '{"appVersion":"v1","extraInfo":{"platform":"old","kubernetesVersion":"v1.29"},"extraTagInfo":{"platform":"new"}}',
      schema,
    );
    expect(parsed.tags).toEqual({ platform: 'new', kubernetesVersion: 'v1.29' });
  });

  it('matches top-level keys without regard to case and ignores unknown keys', () => {
    const parsed = parseCheckin('{"AppVersion":"v2","EXTRATAGINFO":{"platform":"mac"},"whatever":1}', schema);
    expect(parsed.appVersion).toBe('v2');
    expect(parsed.tags).toEqual({ platform: 'mac' });
  });

  it('answers but does not store a check-in whose appVersion is too long or missing', () => {
    expect(parseCheckin(JSON.stringify({ appVersion: 'v'.repeat(21) }), schema).notStoredReason).toBe(
      'app_version_too_long',
    );
    expect(parseCheckin('{}', schema).notStoredReason).toBe('app_version_missing');
  });

  it('accepts the Go client’s exact body with null maps and a trailing newline', () => {
    const body =
      '{"appVersion":"v1.5.0","extraTagInfo":null,"extraFieldInfo":null,"extraInfo":{"kubernetesVersion":"v1.28.1"}}\n';
    const parsed = parseCheckin(body, schema);
    expect(parsed.appVersion).toBe('v1.5.0');
    expect(parsed.tags).toEqual({ kubernetesVersion: 'v1.28.1' });
  });

  it('takes a null tag value as empty, as upgrade-responder stores it, and drops a null field', () => {
    const parsed = parseCheckin(
      JSON.stringify({
        appVersion: 'v1',
        extraTagInfo: { platform: null, unknownTag: null },
        extraFieldInfo: { nodeCount: null, note: null },
        extraInfo: { kubernetesVersion: null },
      }),
      schema,
    );
    expect(parsed.tags).toEqual({ platform: '', kubernetesVersion: '' });
    expect(parsed.fields).toEqual({});
    expect(parsed.dropped).toEqual([
      { kind: 'tag', key: 'unknownTag', reason: 'not_in_schema' },
      { kind: 'field', key: 'nodeCount', reason: 'wrong_type' },
      { kind: 'field', key: 'note', reason: 'wrong_type' },
    ]);
    expect(parsed.notStoredReason).toBeNull();
  });

  it('lets a null in extraTagInfo win over deprecated extraInfo, as any extraTagInfo value does', () => {
    const parsed = parseCheckin(
      '{"appVersion":"v1","extraInfo":{"platform":"old"},"extraTagInfo":{"platform":null}}',
      schema,
    );
    expect(parsed.tags).toEqual({ platform: '' });
  });

  it('keeps a well-formed instance id and drops a bad one', () => {
    expect(parseCheckin('{"appVersion":"v1","instanceId":"abc"}', schema).instanceId).toBe('abc');
    const bad = parseCheckin('{"appVersion":"v1","instanceId":42}', schema);
    expect(bad.instanceId).toBeNull();
    expect(bad.dropped).toEqual([{ kind: 'instance_id', key: 'instanceId', reason: 'wrong_type' }]);
  });

  it.each([
    ['', 'empty'],
    ['{"appVersion":', 'not valid JSON'],
    ['null', 'must be a JSON object'],
    ['[1,2]', 'must be a JSON object'],
    ['"v1"', 'must be a JSON object'],
    ['{"appVersion":1}', '"appVersion" must be a string'],
    [
      '{"appVersion":"v1","extraTagInfo":{"platform":3}}',
      '"extraTagInfo.platform" must be a string or null, got a number',
    ],
    ['{"appVersion":"v1","extraInfo":"x"}', '"extraInfo" must be an object'],
    ['{"appVersion":"v1","extraFieldInfo":[1]}', '"extraFieldInfo" must be an object'],
    ['{"appVersion":"v1"} garbage', 'not valid JSON'],
  ])('refuses %j with a clear message', (body, message) => {
    expect(() => parseCheckin(body, schema)).toThrow(Invalid);
    expect(() => parseCheckin(body, schema)).toThrow(message);
  });
});

describe('compileRequestSchema', () => {
  it('defaults maxLen to 200 like upgrade-responder', () => {
    const s = compileRequestSchema({ appVersionSchema: { dataType: 'string' } }, 'x.json');
    expect(s.appVersionMaxLen).toBe(200);
  });

  it.each([
    [{ appVersionSchema: { dataType: 'float' } }, 'x.json: appVersionSchema.dataType: must be "string"'],
    [
      { extraTagInfoSchema: { k: { dataType: 'boolean' } } },
      'x.json: extraTagInfoSchema.k.dataType: tags must be "string"',
    ],
    [{ extraFieldInfoSchema: { k: { dataType: 'int' } } }, 'x.json: extraFieldInfoSchema.k.dataType: "int" must be'],
    [{ extraFieldInfoSchema: { k: { dataType: 'string', maxLen: -1 } } }, 'x.json: extraFieldInfoSchema.k.maxLen'],
    [{ surprise: {} }, 'x.json: surprise: unknown key'],
  ])('refuses %j naming the file and field', (data, message) => {
    expect(() => compileRequestSchema(data, 'x.json')).toThrow(message);
  });
});
