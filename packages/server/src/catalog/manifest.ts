import { InstallManifest } from '@flotilla/protocol';
import { Value } from 'typebox/value';
import { Invalid } from '../errors.ts';
import { manifestFileName } from './artifacts.ts';

const allowedMacros = new Set(['version', 'role']);
const probes = ['http', 'tcp', 'command', 'statusFile'] as const;

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describe(e: SchemaError): string | undefined {
  const path = e.instancePath || '/';
  switch (e.keyword) {
    case 'type':
      return `${path}: expected ${String(e.params.type)}`;
    case 'required': {
      const missing = (e.params.requiredProperties as string[] | undefined) ?? [];
      return missing.map((p) => `${e.instancePath}/${p}: required`).join('; ');
    }
    case 'additionalProperties':
      return undefined; // reported per property by the `boolean` keyword below
    case 'boolean':
      return `${path}: unknown property`;
    default:
      return `${path}: ${e.message}`;
  }
}

/** Collects `%%name%%` macros that the agent would not expand, with the JSON path of each. */
function unknownMacros(value: unknown, path: string, out: string[]): void {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/%%([^%]*)%%/g)) {
      if (!allowedMacros.has(m[1] as string)) {
        out.push(`${path}: unknown macro %%${m[1]}%% (allowed: %%version%%, %%role%%)`);
      }
    }
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) unknownMacros(v, `${path}/${i}`, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value))
      unknownMacros(v, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
  }
}

/** Problems with a manifest, each `<JSON pointer>: <reason>`; empty when it is valid. */
export function manifestProblems(value: unknown): string[] {
  const problems = (Value.Errors(InstallManifest, value) as SchemaError[])
    .map(describe)
    .filter((p): p is string => !!p);
  if (problems.length > 0) return problems;
  const manifest = value as InstallManifest;
  if (manifest.health) {
    const set = probes.filter((p) => manifest.health?.[p] !== undefined);
    if (set.length !== 1) {
      problems.push(
        `/health: needs exactly one of ${probes.join(', ')}${set.length ? ` (has ${set.join(', ')})` : ''}`,
      );
    }
  }
  // The agent never expands provenance (a branch may well be named `%%x%%`), so it is not checked.
  const { provenance: _, ...expanded } = manifest;
  unknownMacros(expanded, '', problems);
  return problems;
}

/** Returns the manifest typed, or throws Invalid naming the file, the first paths and reasons. */
export function validateManifest(value: unknown): InstallManifest {
  const problems = manifestProblems(value);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new Invalid(`${manifestFileName}: ${shown}${more}`);
  }
  return value as InstallManifest;
}
