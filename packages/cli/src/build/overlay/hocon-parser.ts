// Parses HOCON into a tree that keeps substitutions and includes as written: the overlay engine
// needs to check a file and find its root braces, never to resolve it.
import { BuildInputError } from '../macros.ts';
import { type Token, tokenize } from './hocon-lexer.ts';

export interface HoconObject {
  kind: 'object';
  items: HoconItem[];
  line: number;
}
export interface HoconArray {
  kind: 'array';
  elements: HoconValue[];
  line: number;
}
/** One value as written: literal text, substitutions, objects and arrays side by side on one line. */
export interface HoconValue {
  kind: 'value';
  parts: HoconPart[];
  line: number;
}
export type HoconPart =
  | { kind: 'string'; text: string; quoted: boolean }
  | { kind: 'space'; text: string }
  | { kind: 'subst'; path: string[]; optional: boolean; line: number }
  | HoconObject
  | HoconArray;
export type HoconItem =
  | { kind: 'field'; path: string[]; append: boolean; value: HoconValue; line: number }
  | { kind: 'include'; target: string; how: 'plain' | 'file' | 'url' | 'classpath'; required: boolean; line: number };

export interface HoconDocument {
  root: HoconObject;
  /** Offsets of the root's `{` and `}` when the file wraps its root in braces. */
  braces?: { open: number; close: number };
}

export function parseHocon(text: string, file: string): HoconDocument {
  const tokens = tokenize(text, file);
  let pos = 0;
  const lastLine = text.split('\n').length;
  const peek = (): Token | undefined => tokens[pos];
  const fail = (reason: string, token = peek()): never => {
    throw new BuildInputError(file, token?.line ?? lastLine, reason);
  };
  const describe = (t: Token | undefined) => (t === undefined ? 'end of file' : `'${t.text.replace('\n', '\\n')}'`);
  const skip = (...types: Token['type'][]) => {
    while (pos < tokens.length && types.includes((tokens[pos] as Token).type)) pos++;
  };

  const parseKey = (): string[] => {
    const keys: string[] = [];
    let current = '';
    let sawAny = false;
    const first = peek();
    for (;;) {
      const t = peek();
      if (t === undefined || !['quoted', 'unquoted', 'ws'].includes(t.type)) break;
      if (t.type === 'ws') {
        // space inside a key belongs to it; space before the separator does not
        const next = tokens[pos + 1];
        if (next === undefined || !['quoted', 'unquoted'].includes(next.type)) {
          pos++;
          break;
        }
        current += t.text;
      } else if (t.type === 'quoted') {
        current += t.text;
        sawAny = true;
      } else {
        const pieces = t.text.split('.');
        for (const [index, piece] of pieces.entries()) {
          if (index > 0) {
            if (!sawAny) fail(`empty key in '${t.text}'`, t);
            keys.push(current);
            current = '';
            sawAny = false;
          }
          current += piece;
          if (piece !== '') sawAny = true;
        }
      }
      pos++;
    }
    if (!sawAny) fail(`expected a key, found ${describe(first)}`, first);
    keys.push(current);
    return keys;
  };

  const parseInclude = (line: number): HoconItem => {
    skip('ws');
    let required = false;
    let how: 'plain' | 'file' | 'url' | 'classpath' = 'plain';
    const closer = () => {
      skip('ws');
      const t = peek();
      if (t?.type !== 'unquoted' || !t.text.startsWith(')'))
        return fail(`expected ')' in include, found ${describe(t)}`);
      if (t.text === ')') pos++;
      else t.text = t.text.slice(1); // `))` of `required(file("x"))`
    };
    // `required(`, `file(` … may come as one unquoted token (`required(file(`) or apart
    for (;;) {
      const t = peek();
      const m = t?.type === 'unquoted' ? /^(required\()?(?:(file|url|classpath)\()?$/.exec(t.text) : null;
      if (!m || t?.text === '') break;
      if (m[1]) {
        if (required || how !== 'plain') fail('misplaced required( in include');
        required = true;
      }
      if (m[2]) {
        if (how !== 'plain') fail('two locations in one include');
        how = m[2] as typeof how;
      }
      pos++;
      skip('ws');
    }
    const target = peek();
    if (target?.type !== 'quoted') return fail(`include needs a quoted file name, found ${describe(target)}`);
    pos++;
    if (how !== 'plain') closer();
    if (required) closer();
    return { kind: 'include', target: target.text, how, required, line };
  };

  const parseObjectBody = (closing: 'rbrace' | undefined, line: number): HoconObject => {
    const items: HoconItem[] = [];
    for (;;) {
      skip('ws', 'newline', 'comma');
      const t = peek();
      if (t === undefined) {
        if (closing) fail("missing '}'");
        break;
      }
      if (t.type === 'rbrace') {
        if (!closing) fail("unexpected '}'");
        pos++;
        break;
      }
      if (t.type === 'unquoted' && t.text === 'include' && tokens[pos + 1]?.type === 'ws') {
        pos++;
        items.push(parseInclude(t.line));
      } else {
        const path = parseKey();
        skip('ws');
        const sep = peek();
        let append = false;
        if (sep?.type === 'colon' || sep?.type === 'equals' || sep?.type === 'plusEquals') {
          append = sep.type === 'plusEquals';
          pos++;
          skip('ws', 'newline'); // the value may start on the next line
        } else if (sep?.type !== 'lbrace') {
          fail(`expected ':', '=' or '{' after key '${path.join('.')}', found ${describe(sep)}`);
        }
        const value = parseValue();
        if (value.parts.length === 0) fail(`key '${path.join('.')}' has no value`, sep);
        items.push({ kind: 'field', path, append, value, line: t.line });
      }
      // fields end at a newline, a comma or the closing brace
      skip('ws');
      const after = peek();
      if (after !== undefined && !['newline', 'comma', 'rbrace'].includes(after.type))
        fail(`expected a new line or ',' after a field, found ${describe(after)}`);
    }
    return { kind: 'object', items, line };
  };

  const parseArray = (line: number): HoconArray => {
    const elements: HoconValue[] = [];
    for (;;) {
      skip('ws', 'newline');
      const t = peek();
      if (t === undefined) return fail("missing ']'");
      if (t.type === 'rbracket') {
        pos++;
        return { kind: 'array', elements, line };
      }
      const value = parseValue();
      if (value.parts.length === 0) fail(`unexpected ${describe(peek())} in array`);
      elements.push(value);
      skip('ws');
      const newline = peek()?.type === 'newline'; // a new line separates elements as a comma does
      skip('ws', 'newline');
      const after = peek();
      if (after === undefined) fail("missing ']'");
      if (after?.type === 'comma') pos++;
      else if (after?.type !== 'rbracket' && !newline) fail(`expected ',' or ']' in array, found ${describe(after)}`);
    }
  };

  function parseValue(): HoconValue {
    const parts: HoconPart[] = [];
    const line = peek()?.line ?? lastLine;
    for (;;) {
      const t = peek();
      if (t === undefined) break;
      if (t.type === 'quoted' || t.type === 'unquoted')
        parts.push({ kind: 'string', text: t.text, quoted: t.type === 'quoted' });
      else if (t.type === 'ws') parts.push({ kind: 'space', text: t.text });
      else if (t.type === 'subst')
        parts.push({ kind: 'subst', path: t.path ?? [], optional: t.optional === true, line: t.line });
      else if (t.type === 'lbrace') {
        pos++;
        parts.push(parseObjectBody('rbrace', t.line));
        continue;
      } else if (t.type === 'lbracket') {
        pos++;
        parts.push(parseArray(t.line));
        continue;
      } else break;
      pos++;
    }
    while (parts.at(-1)?.kind === 'space') parts.pop();
    return { kind: 'value', parts, line };
  }

  skip('ws', 'newline');
  const first = peek();
  if (first?.type === 'lbracket') fail('the root of a .conf file must be an object, not an array');
  if (first?.type === 'lbrace') {
    pos++;
    const root = parseObjectBody('rbrace', first.line);
    const close = tokens[pos - 1] as Token;
    skip('ws', 'newline');
    if (peek() !== undefined) fail(`unexpected ${describe(peek())} after the root object`);
    return { root, braces: { open: first.start, close: close.start } };
  }
  return { root: parseObjectBody(undefined, 1) };
}
