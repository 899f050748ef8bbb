import { describe, expect, it } from 'vitest';
import { mergeJsonFiles } from './json-merge.ts';
import { mergePropertiesFiles } from './properties-merge.ts';

describe('JSON merge', () => {
  it('merges objects deeply, replaces arrays and keeps indentation', () => {
    const base = { file: 'app.json', text: '{\n    "a": {"x": 1, "y": [1, 2]},\n    "b": "keep"\n}\n' };
    const { text, value } = mergeJsonFiles(base, [
      { file: 's/app.json', text: '{"a": {"y": [3], "z": null}}' },
      { file: 's/app.1.json', text: '{"a": {"x": 2}, "c": true}' },
    ]);
    expect(value).toEqual({ a: { x: 2, y: [3], z: null }, b: 'keep', c: true });
    expect(text).toBe(`${JSON.stringify(value, null, 4)}\n`);
  });

  it('names the file and line of a syntax error, and refuses a non-object overlay', () => {
    const base = { file: 'app.json', text: '{}' };
    expect(() => mergeJsonFiles(base, [{ file: 's/app.json', text: '{\n  "a": 1,\n}' }])).toThrow(
      /^s\/app\.json:3: not valid JSON/,
    );
    expect(() => mergeJsonFiles(base, [{ file: 's/app.json', text: '[1]' }])).toThrow(
      's/app.json:1: a JSON overlay must hold an object',
    );
  });
});

describe('properties merge', () => {
  it('updates keys in place, keeps comments and appends new keys escaped for ISO-8859-1 readers', () => {
    const base = { file: 'app.properties', text: '# server\nport=8080\nhost : localhost\nname=a\\\n  b\n' };
    const out = mergePropertiesFiles(base, [
      { file: 's/app.properties', text: 'port = 9090\nregion=eu\n' },
      { file: 's/app.1.properties', text: 'region=ü\nhost=acme.example\n' },
    ]);
    expect(out).toBe('# server\nport=9090\nhost : acme.example\nname=a\\\n  b\n\nregion = \\u00fc\n');
  });
});
