// The subset of kubectl's JSONPath a tracker's `fieldSelector` needs, with kubectl's syntax for label
// keys (`.metadata.labels.app\.kubernetes\.io/version`). A small parser rather than a general JSONPath
// library: those treat `\.` and `/` differently from kubectl, and this keeps user paths linear-time.

export class JsonPathError extends Error {
  override name = 'JsonPathError';
}

type Step = { field: string } | { index: number } | { all: true };

/** Longest accepted path (characters). */
export const maxJsonPathLength = 1024;

const UNSUPPORTED = 'filters, recursive descent (..), slices, unions, range and text outside {} are not supported';

/**
 * Compiles `.status.nodeInfo.kubeletVersion`, `{.status.nodeInfo.kubeletVersion}`, `$.a.b`,
 * `.metadata.labels.app\.io/version`, `.metadata.labels['app.io/version']`, `.spec.containers[0].image`,
 * `.spec.containers[-1].image` and `.spec.containers[*].image` into a function returning every value found.
 */
export function compileJsonPath(source: string): (object: unknown) => unknown[] {
  const steps = parseJsonPath(source);
  return (object) => {
    let current: unknown[] = [object];
    for (const step of steps) {
      const next: unknown[] = [];
      for (const value of current) {
        if ('field' in step) {
          if (
            value !== null &&
            typeof value === 'object' &&
            !Array.isArray(value) &&
            Object.hasOwn(value, step.field)
          ) {
            next.push((value as Record<string, unknown>)[step.field]);
          }
        } else if (!Array.isArray(value)) {
          if ('all' in step && value !== null && typeof value === 'object') next.push(...Object.values(value));
        } else if ('all' in step) {
          next.push(...value);
        } else {
          const i = step.index < 0 ? value.length + step.index : step.index;
          if (i >= 0 && i < value.length) next.push(value[i]);
        }
      }
      current = next;
    }
    return current.filter((value) => value !== undefined && value !== null);
  };
}

export function parseJsonPath(source: string): Step[] {
  const fail = (why: string, at?: number): never => {
    throw new JsonPathError(
      `invalid JSONPath ${JSON.stringify(source)}${at === undefined ? '' : ` at position ${at + 1}`}: ${why}`,
    );
  };
  if (source.length > maxJsonPathLength) fail(`longer than ${maxJsonPathLength} characters`);
  let text = source.trim();
  let offset = source.indexOf(text);
  if (text.startsWith('{')) {
    if (!text.endsWith('}') || text.indexOf('{', 1) !== -1) fail(UNSUPPORTED);
    text = text.slice(1, -1).trim();
    offset = source.indexOf(text, offset + 1);
  } else if (text.includes('{')) fail(UNSUPPORTED);
  if (text.startsWith('$')) {
    text = text.slice(1);
    offset++;
  }
  if (text === '') fail('empty path');
  if (text.includes('..')) fail(UNSUPPORTED, offset + text.indexOf('..'));
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      i++;
      if (text[i] === '*') {
        steps.push({ all: true });
        i++;
        continue;
      }
      let field = '';
      while (i < text.length && text[i] !== '.' && text[i] !== '[') {
        if (text[i] === '\\') {
          const escaped = text[i + 1];
          if (escaped === undefined) fail('a trailing backslash', offset + i);
          field += escaped;
          i += 2;
        } else {
          if (/[\s(){}?@,]/.test(text[i] as string)) fail(`unexpected ${JSON.stringify(text[i])}`, offset + i);
          field += text[i];
          i++;
        }
      }
      if (field === '') fail('an empty field name', offset + i);
      steps.push({ field });
    } else if (c === '[') {
      const close = text.indexOf(']', i);
      if (close === -1) fail('an unclosed [', offset + i);
      const inner = text.slice(i + 1, close).trim();
      const quoted = /^'([^']*)'$|^"([^"]*)"$/.exec(inner);
      if (inner === '*') steps.push({ all: true });
      else if (/^-?[0-9]{1,9}$/.test(inner)) steps.push({ index: Number(inner) });
      else if (quoted) {
        const field = quoted[1] ?? quoted[2] ?? '';
        if (field === '') fail('an empty field name', offset + i);
        steps.push({ field });
      } else fail(`[${inner}]: only [n], [*] and ['key'] are supported (${UNSUPPORTED})`, offset + i);
      i = close + 1;
    } else if (steps.length === 0 && /[A-Za-z_]/.test(c as string)) {
      // kubectl also accepts a path without its leading dot: `status.nodeInfo.kubeletVersion`.
      text = `.${text.slice(i)}`;
      offset--;
      i = 0;
    } else {
      fail(`unexpected ${JSON.stringify(c)} (a path is made of .field, [n], [*] and ['key'])`, offset + i);
    }
  }
  return steps;
}
