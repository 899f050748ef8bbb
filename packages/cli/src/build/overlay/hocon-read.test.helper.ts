// Reads HOCON to plain values the way Typesafe Config resolves it, for the tests to check what a
// merged file means: duplicate keys merge, `+=` and `${self}` look back, other substitutions and
// `${?ENV}` resolve at the end. Includes are not followed.
import { type HoconObject, type HoconValue, parseHocon } from './hocon-parser.ts';

type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };
type Obj = { [key: string]: Value };
type Value = null | boolean | number | string | Value[] | Obj | Ref | Concat | undefined;

/** `${path}` not yet resolved; `fallback` is the earlier value an unset `${?path}` leaves. */
class Ref {
  ref: string[];
  optional: boolean;
  fallback: Value;
  constructor(ref: string[], optional: boolean, fallback?: Value) {
    this.ref = ref;
    this.optional = optional;
    this.fallback = fallback;
  }
}
class Concat {
  parts: Value[];
  constructor(parts: Value[]) {
    this.parts = parts;
  }
}

const isObject = (v: Value): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Ref) && !(v instanceof Concat);

function lookup(root: Value, path: string[]): Value {
  let node = root;
  for (const key of path) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

function merge(older: Value, newer: Value): Value {
  if (!isObject(older) || !isObject(newer)) return newer;
  const out: Obj = { ...older };
  for (const [k, v] of Object.entries(newer)) out[k] = Object.hasOwn(out, k) ? merge(out[k], v) : v;
  return out;
}

function literal(text: string): Plain {
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text)) return Number(text);
  return text;
}

export function readHocon(text: string, env: Record<string, string> = {}): Record<string, Plain> {
  const root: Obj = {};

  const evalValue = (node: HoconValue, self: string[]): Value => {
    const parts = node.parts.map((part): Value => {
      if (part.kind === 'string' || part.kind === 'space') return part.text;
      if (part.kind === 'subst') {
        const isSelf = part.path.join('\0') === self.join('\0');
        return isSelf ? (lookup(root, self) ?? (part.optional ? undefined : null)) : new Ref(part.path, part.optional);
      }
      if (part.kind === 'array') return part.elements.map((e) => evalValue(e, self));
      return objectValue(part);
    });
    if (node.parts.length === 1 && node.parts[0]?.kind === 'string' && !node.parts[0].quoted)
      return literal(node.parts[0].text);
    return parts.length === 1 ? parts[0] : new Concat(parts);
  };

  // An object inside an array or a concatenation: its own fields only, no look-back.
  const objectValue = (obj: HoconObject): Obj => {
    let out: Obj = {};
    for (const item of obj.items) {
      if (item.kind === 'include') continue;
      let value = evalValue(item.value, []);
      for (const key of [...item.path].reverse()) value = { [key]: value };
      out = merge(out, value) as Obj;
    }
    return out;
  };

  // Sets a value at a path of the root, merging objects as a later definition does.
  const assign = (path: string[], value: Value) => {
    let node = root;
    for (const key of path.slice(0, -1)) {
      if (!isObject(node[key])) node[key] = {};
      node = node[key] as Obj;
    }
    const last = path.at(-1) as string;
    node[last] = Object.hasOwn(node, last) ? merge(node[last], value) : value;
  };

  function evalObject(obj: HoconObject, prefix: string[]): void {
    for (const item of obj.items) {
      if (item.kind === 'include') continue;
      const full = [...prefix, ...item.path];
      const only = item.value.parts.length === 1 ? item.value.parts[0] : undefined;
      if (only?.kind === 'object' && !item.append) {
        // fields of a nested object are definitions at their full paths
        if (!isObject(lookup(root, full))) assign(full, {});
        evalObject(only, full);
        continue;
      }
      let value = evalValue(item.value, full);
      if (item.append) value = new Concat([lookup(root, full) ?? [], [value]]);
      // `port = ${?PORT}` leaves the earlier value when PORT is not set
      if (value instanceof Ref && value.optional) value.fallback = lookup(root, full);
      if (!isObject(value)) {
        const parent = lookup(root, full.slice(0, -1));
        if (isObject(parent)) delete parent[full.at(-1) as string]; // a non-object replaces
      }
      assign(full, value);
    }
  }

  const resolve = (v: Value, depth: number): Value => {
    if (depth > 50) throw new Error('substitution cycle');
    if (Array.isArray(v)) return v.map((e) => resolve(e, depth)).filter((e) => e !== undefined);
    if (v instanceof Ref) {
      const found = lookup(root, v.ref);
      if (found !== undefined) return resolve(found, depth + 1);
      const fromEnv = env[v.ref.join('.')];
      if (fromEnv !== undefined) return fromEnv;
      if (v.optional) return v.fallback === undefined ? undefined : resolve(v.fallback, depth + 1);
      throw new Error(`unresolved \${${v.ref.join('.')}}`);
    }
    if (v instanceof Concat) {
      const values = v.parts.map((p) => resolve(p, depth)).filter((p) => p !== undefined);
      if (values.every((p) => Array.isArray(p))) return values.flat() as Value;
      if (values.every((p) => isObject(p))) return values.reduce((a: Value, b) => merge(a, b), {});
      const s = values.map((p) => (typeof p === 'object' ? JSON.stringify(p) : String(p))).join('');
      return s.trim() === s ? s : s.trim();
    }
    if (isObject(v)) {
      const out: Obj = {};
      for (const [k, e] of Object.entries(v)) {
        const r = resolve(e, depth);
        if (r !== undefined) out[k] = r;
      }
      return out;
    }
    return v;
  };

  evalObject(parseHocon(text, 'test.conf').root, []);
  return resolve(root, 0) as Record<string, Plain>;
}
