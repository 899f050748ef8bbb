import { describe, expect, it } from 'vitest';
import { BuildInputError, expandMacros, parseDefines } from './macros.ts';

describe('macros', () => {
  it('replaces each defined macro and leaves values unexpanded', () => {
    const out = expandMacros(
      'v=%%version%% r=%%role%% x=%%self%%',
      { version: '1.2.3', role: 'a', self: '%%role%%' },
      'f',
    );
    expect(out).toBe('v=1.2.3 r=a x=%%role%%');
  });

  it('names the file and line of an undefined macro', () => {
    try {
      expandMacros('a\nb\nport=%%port%%\n', {}, 'conf/app.conf');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BuildInputError);
      expect((error as BuildInputError).message).toBe('conf/app.conf:3: macro %%port%% is not defined');
    }
  });

  it('keeps undefined macros when asked to, for a developer version left to its client versions', () => {
    expect(expandMacros('%%a%% %%b%%', { a: '1' }, 'f', 'keep')).toBe('1 %%b%%');
  });

  it('ignores percent pairs that are not macro names', () => {
    expect(expandMacros('50%% of %% 100%%', {}, 'f')).toBe('50%% of %% 100%%');
  });

  it('parses defines with comments and reports a bad line', () => {
    expect(parseDefines('# c\nport = 8080\n\nhost=a=b\n', 'x.defines')).toEqual({ port: '8080', host: 'a=b' });
    expect(() => parseDefines('ok=1\nnot a pair\n', 'x.defines')).toThrow('x.defines:2: expected name=value');
  });
});
