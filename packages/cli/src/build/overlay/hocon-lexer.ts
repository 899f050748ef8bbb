// Splits HOCON text into tokens the way Typesafe Config's tokenizer does, keeping offsets so the
// merger can cut the text itself and lines so every error names one.
import { BuildInputError } from '../macros.ts';

export type TokenType =
  | 'lbrace'
  | 'rbrace'
  | 'lbracket'
  | 'rbracket'
  | 'comma'
  | 'colon'
  | 'equals'
  | 'plusEquals'
  | 'newline'
  | 'ws'
  | 'quoted'
  | 'unquoted'
  | 'subst';

export interface Token {
  type: TokenType;
  /** The decoded text: a string's value, a substitution's path expression, the raw text otherwise. */
  text: string;
  line: number;
  start: number;
  end: number;
  /** For `subst`: `${?path}`. */
  optional?: boolean;
  /** For `subst`: the path split into keys. */
  path?: string[];
}

const punctuation: Record<string, TokenType> = {
  '{': 'lbrace',
  '}': 'rbrace',
  '[': 'lbracket',
  ']': 'rbracket',
  ',': 'comma',
  ':': 'colon',
  '=': 'equals',
};
// Characters that end an unquoted string (HOCON.md, "Unquoted strings").
const forbidden = new Set([...'$"{}[]:=,+#`^?!@*&\\']);
const escapes: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function isSpace(ch: string): boolean {
  return ch !== '\n' && /[\s\uFEFF]/u.test(ch);
}

export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (reason: string, at = line): never => {
    throw new BuildInputError(file, at, reason);
  };
  const push = (type: TokenType, start: number, value: string, extra?: Partial<Token>) =>
    tokens.push({ type, text: value, line, start, end: i, ...extra });

  const readQuoted = (): string => {
    // i is on the opening quote
    let out = '';
    i++;
    for (;;) {
      const ch = text[i];
      if (ch === undefined || ch === '\n') return fail('unterminated quoted string');
      if (ch === '"') {
        i++;
        return out;
      }
      if (ch === '\\') {
        const next = text[i + 1] ?? '';
        if (next === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape in quoted string');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
          continue;
        }
        const decoded = escapes[next];
        if (decoded === undefined) fail(`bad escape \\${next} in quoted string`);
        out += decoded;
        i += 2;
        continue;
      }
      out += ch;
      i++;
    }
  };

  while (i < text.length) {
    const start = i;
    const ch = text[i] as string;
    if (ch === '\n') {
      i++;
      push('newline', start, '\n');
      line++;
    } else if (isSpace(ch)) {
      while (i < text.length && isSpace(text[i] as string)) i++;
      push('ws', start, text.slice(start, i));
    } else if (ch === '#' || text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (punctuation[ch]) {
      i++;
      push(punctuation[ch], start, ch);
    } else if (text.startsWith('+=', i)) {
      i += 2;
      push('plusEquals', start, '+=');
    } else if (text.startsWith('"""', i)) {
      const startLine = line;
      const close = text.indexOf('"""', i + 3);
      if (close < 0) fail('unterminated """ string');
      let end = close + 3;
      while (text[end] === '"') end++; // extra quotes before the closing three belong to the string
      const value = text.slice(i + 3, end - 3);
      i = end;
      tokens.push({ type: 'quoted', text: value, line: startLine, start, end: i });
      line += value.split('\n').length - 1;
    } else if (ch === '"') {
      const value = readQuoted();
      push('quoted', start, value);
    } else if (text.startsWith('${', i)) {
      const close = text.indexOf('}', i);
      const newline = text.indexOf('\n', i);
      if (close < 0 || (newline >= 0 && newline < close)) fail('unterminated substitution ${');
      const optional = text[i + 2] === '?';
      const inner = text.slice(i + (optional ? 3 : 2), close).trim();
      i = close + 1;
      push('subst', start, inner, { optional, path: splitPath(inner, file, line) });
    } else if (forbidden.has(ch)) {
      fail(`unexpected character '${ch}'`);
    } else {
      while (i < text.length) {
        const c = text[i] as string;
        if (c === '\n' || isSpace(c) || text.startsWith('//', i)) break;
        // `1e+5`: a plus inside a number's exponent stays part of it
        if (c === '+' && /^-?[0-9.]+[eE]$/.test(text.slice(start, i)) && text[i + 1] !== '=') {
          i++;
          continue;
        }
        if (forbidden.has(c)) break;
        i++;
      }
      push('unquoted', start, text.slice(start, i));
    }
  }
  return tokens;
}

/** Splits a path expression (`a.b."c.d"`) into keys; quoted parts keep their dots. */
export function splitPath(expression: string, file: string, line: number): string[] {
  const keys: string[] = [];
  let current = '';
  let sawAny = false;
  let i = 0;
  while (i < expression.length) {
    const ch = expression[i] as string;
    if (ch === '"') {
      const close = expression.indexOf('"', i + 1);
      if (close < 0) throw new BuildInputError(file, line, `bad path ${expression}`);
      try {
        current += JSON.parse(expression.slice(i, close + 1)) as string;
      } catch {
        throw new BuildInputError(file, line, `bad path ${expression}`);
      }
      sawAny = true;
      i = close + 1;
    } else if (ch === '.') {
      if (!sawAny) throw new BuildInputError(file, line, `bad path ${expression}: empty key`);
      keys.push(current);
      current = '';
      sawAny = false;
      i++;
    } else {
      current += ch;
      sawAny = true;
      i++;
    }
  }
  if (!sawAny) throw new BuildInputError(file, line, `bad path '${expression}': empty key`);
  keys.push(current);
  return keys;
}
