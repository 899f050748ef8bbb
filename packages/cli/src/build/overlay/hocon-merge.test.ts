// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HOCON substitutions are written ${path}, not JS templates
import { describe, expect, it } from 'vitest';
import { mergeHoconFiles } from './hocon-merge.ts';
import { readHocon } from './hocon-read.test.helper.ts';

const base = {
  file: 'conf/app.conf',
  text: [
    '# Defaults of the service',
    'include "logging.conf"',
    'http { host = 0.0.0.0, port = 8080, port = ${?HTTP_PORT} }',
    'db { url = "jdbc:pg://db/app", pool { min = 1, max = 10 } }',
    'features = [a, b]',
    'paths = [/usr/lib]',
    'name = ${http.host}":"${http.port}',
  ].join('\n'),
};

describe('HOCON merge', () => {
  it('reads as Typesafe Config merges: objects deeply, later wins, arrays replaced', () => {
    const merged = mergeHoconFiles(base, [
      { file: 'acme/conf/app.conf', text: 'db.pool.max = 50\nfeatures = [c]\nhttp { host = 10.0.0.1 }\n' },
      { file: 'acme/conf/app.2.conf', text: '{\n  "db": { "url": "jdbc:pg://acme/app" },\n  paths += /opt/acme\n}\n' },
    ]);
    expect(readHocon(merged)).toEqual({
      http: { host: '10.0.0.1', port: 8080 },
      db: { url: 'jdbc:pg://acme/app', pool: { min: 1, max: 50 } },
      features: ['c'],
      paths: ['/usr/lib', '/opt/acme'],
      name: '10.0.0.1:8080',
    });
    expect(readHocon(merged, { HTTP_PORT: '9443' }).http).toEqual({ host: '10.0.0.1', port: '9443' });
  });

  it('keeps comments, includes and substitutions as written, with each overlay named', () => {
    const merged = mergeHoconFiles(base, [{ file: 'acme/conf/app.conf', text: 'http.port = ${?PORT}' }]);
    expect(merged.startsWith(base.text)).toBe(true);
    expect(merged).toContain('include "logging.conf"');
    expect(merged).toContain('# ---- overlay: acme/conf/app.conf ----\nhttp.port = ${?PORT}\n');
    expect(readHocon(merged, { PORT: '1' }).http).toEqual({ host: '0.0.0.0', port: '1' });
  });

  it('blanks root braces so that later fields still parse, keeping line numbers', () => {
    const merged = mergeHoconFiles({ file: 'a.conf', text: '{\n  a: 1\n  b: { c: 2 }\n}' }, [
      { file: 's/a.conf', text: '{ b.d = 3 }' },
    ]);
    expect(merged.split('\n')[1]).toBe('  a: 1');
    expect(readHocon(merged)).toEqual({ a: 1, b: { c: 2, d: 3 } });
  });

  it('names the overlay and line that does not parse', () => {
    expect(() => mergeHoconFiles(base, [{ file: 'acme/conf/app.1.conf', text: 'ok = 1\nbad = [1, 2\n' }])).toThrow(
      "acme/conf/app.1.conf:3: missing ']'",
    );
  });
});
