// Reads the build spec from the first source (flotilla-build.json when there, else update.json),
// checks it against the protocol schema and picks the entry of the service being built.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  maxSpecBytes,
  NativeBuildSpec,
  type SpecBuild,
  type SpecCommand,
  type SpecCopyFile,
  UpdateSpec,
} from '@flotilla/protocol';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { BuildInputError, type Macros } from '../macros.ts';
import { nativeManifest } from './native-manifest.ts';
import { nativeSpecFileName, specFileName } from './spec-files.ts';
import { installToManifest, type Translation } from './to-manifest.ts';

export { nameValues } from './spec-files.ts';

export interface LoadedSpec {
  file: string;
  sha256: string;
  buildCommands: SpecCommand[];
  copyFiles: SpecCopyFile[];
  /** The version's flotilla.json (without provenance), the --macro values expanded. */
  toManifest: (macros: Macros) => Translation;
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describe(e: SchemaError): string | undefined {
  const path = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') return undefined;
  if (e.keyword === 'boolean') return `${path}: unknown property`;
  if (e.keyword === 'required') {
    const missing = (e.params.requiredProperties as string[] | undefined) ?? [];
    return missing.map((p) => `${e.instancePath}/${p}: required`).join('; ');
  }
  if (e.keyword === 'type') return `${path}: expected ${String(e.params.type)}`;
  return `${path}: ${e.message}`;
}

/** Problems of a parsed spec against a schema, each `<JSON pointer>: <reason>`; empty when valid. */
export function specProblems(schema: TSchema, value: unknown): string[] {
  const all = (Value.Errors(schema, value) as SchemaError[]).map(describe).filter((p): p is string => !!p);
  return [...new Set(all)];
}

function parseChecked<T>(schema: TSchema, text: string, file: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BuildInputError(file, undefined, `not valid JSON: ${(err as Error).message}`);
  }
  const problems = specProblems(schema, value);
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new BuildInputError(file, undefined, `${problems.slice(0, 5).join('; ')}${more}`);
  }
  return value as T;
}

function pick<T extends { service: string }>(entries: T[], service: string, file: string, list: string): T {
  const matches = entries.filter((u) => u.service === service);
  if (matches.length === 0) {
    const names = entries.map((u) => u.service).join(', ');
    throw new BuildInputError(file, undefined, `no entry for service "${service}" in ${list}[] (it has: ${names})`);
  }
  if (matches.length > 1) throw new BuildInputError(file, undefined, `service "${service}" appears more than once`);
  return matches[0] as T;
}

/** Parses and checks update.json text and returns the service's build section. */
export function parseSpec(text: string, file: string, service: string): SpecBuild {
  const spec = parseChecked<UpdateSpec>(UpdateSpec, text, file);
  return pick(spec.update, service, file, 'update').build ?? {};
}

function fromText(file: string, text: string, service: string): Omit<LoadedSpec, 'sha256'> {
  if (file === nativeSpecFileName) {
    const entry = pick(parseChecked<NativeBuildSpec>(NativeBuildSpec, text, file).builds, service, file, 'builds');
    return {
      file,
      buildCommands: entry.build?.buildCommands ?? [],
      copyFiles: entry.build?.copyFiles ?? [],
      toManifest: (macros) => nativeManifest(entry.manifest, macros),
    };
  }
  const build = parseSpec(text, file, service);
  return {
    file,
    buildCommands: build.buildCommands ?? [],
    copyFiles: build.copyFiles ?? [],
    toManifest: (macros) => installToManifest(build.install, macros),
  };
}

/** Reads the spec at the root of `sourceRoot`, bounded in size, with the SHA-256 of its bytes. */
export function loadSpec(sourceRoot: string, service: string): LoadedSpec {
  for (const file of [nativeSpecFileName, specFileName]) {
    const path = join(sourceRoot, file);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isFile()) throw new BuildInputError(file, undefined, 'not a file');
    if (st.size > maxSpecBytes) throw new BuildInputError(file, undefined, `larger than ${maxSpecBytes} bytes`);
    const bytes = readFileSync(path);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { ...fromText(file, bytes.toString('utf8'), service), sha256 };
  }
  throw new BuildInputError(
    specFileName,
    undefined,
    `neither it nor ${nativeSpecFileName} is at the root of the first source`,
  );
}
