// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HOCON substitutions are written ${path}, not JS templates
import { describe, expect, it } from 'vitest';
import { BuildInputError } from '../macros.ts';
import { parseHocon } from './hocon-parser.ts';
import { readHocon } from './hocon-read.test.helper.ts';

function errorOf(text: string): BuildInputError {
  try {
    parseHocon(text, 'conf/app.conf');
  } catch (error) {
    expect(error).toBeInstanceOf(BuildInputError);
    return error as BuildInputError;
  }
  return expect.unreachable('parsed') as never;
}

describe('HOCON parser', () => {
  it('reads the syntax Typesafe Config users rely on', () => {
    const text = [
      '# comment',
      'include "common.conf"',
      'include required(file("/etc/app/local.conf"))',
      'db.host = localhost // trailing comment',
      'db { port: 5432, "name.with.dots" = main }',
      'server {',
      '  port = ${?PORT}',
      '  url = "http://"${db.host}":"${db.port}',
      '  greeting = Hello world',
      '  banner = """two',
      'lines"""',
      '}',
      'list = [1, 2',
      '  3]',
      'list += 4',
      'ratio = 1e+5',
      '',
    ].join('\n');
    const { root, braces } = parseHocon(text, 'app.conf');
    expect(braces).toBeUndefined();
    const includes = root.items.filter((i) => i.kind === 'include');
    expect(includes).toEqual([
      { kind: 'include', target: 'common.conf', how: 'plain', required: false, line: 2 },
      { kind: 'include', target: '/etc/app/local.conf', how: 'file', required: true, line: 3 },
    ]);
    expect(readHocon(text, { PORT: '9000' })).toEqual({
      db: { host: 'localhost', port: 5432, 'name.with.dots': 'main' },
      server: { port: '9000', url: 'http://localhost:5432', greeting: 'Hello world', banner: 'two\nlines' },
      list: [1, 2, 3, 4],
      ratio: 1e5,
    });
    expect(readHocon(text).server).not.toHaveProperty('port');
  });

  it('reads quoted path segments, values on the next line and quotes before a closing triple quote', () => {
    const text = '"a.b" { c = 1 }\nref = ${"a.b".c}\nnext =\n  2\nq = """say "hi""""\n';
    expect(readHocon(text)).toEqual({ 'a.b': { c: 1 }, ref: 1, next: 2, q: 'say "hi"' });
  });

  it('finds root braces and refuses a root array', () => {
    const text = '// head\n{\n  a: 1\n}\n';
    expect(parseHocon(text, 'x.conf').braces).toEqual({ open: text.indexOf('{'), close: text.lastIndexOf('}') });
    expect(errorOf('[1, 2]').message).toContain('root of a .conf file must be an object');
  });

  it('names the line of each syntax error', () => {
    expect(errorOf('a = 1\nb = "open\n').message).toBe('conf/app.conf:2: unterminated quoted string');
    expect(errorOf('a {\n  b = 1\n').message).toBe("conf/app.conf:3: missing '}'");
    expect(errorOf('a = 1\nb 2\n').message).toMatch(/^conf\/app\.conf:2: expected ':', '=' or '\{' after key 'b 2'/);
    expect(errorOf('a = [1,\n2\n').message).toBe("conf/app.conf:3: missing ']'");
    expect(errorOf('a = ${b\n').message).toBe('conf/app.conf:1: unterminated substitution ${');
    expect(errorOf('x = 1\ny = a^b\n').line).toBe(2);
    expect(errorOf('a = 1 }').message).toContain("unexpected '}'");
    expect(errorOf('include foo\n').message).toContain('include needs a quoted file name');
    expect(errorOf('a = """never closed\n\n').line).toBe(1);
  });
});
