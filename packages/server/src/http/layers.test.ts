import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// http/ holds what features share and sits below them: the composition root (start.ts, routes.ts)
// assembles the routes, so the layers read top to bottom.
const src = fileURLToPath(new URL('..', import.meta.url));

/**
 * What http/ may import under src/: itself and the layers below every feature. Anything else is a
 * feature (an entry added later counts as one) or the composition root.
 */
const belowFeatures = new Set([
  'http',
  'errors.ts',
  'config',
  'db',
  'metrics',
  'logging',
  'geo',
  // Tokens and the bearer, role and session-cookie checks every feature's routes use.
  'auth',
  // Where artifacts and fault archives live (the data directory or an object store).
  'blobs',
]);
const compositionRoot = ['start.ts', 'routes.ts', 'index.ts'];

const importPattern = /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/** Every module specifier a source file imports or re-exports, static or dynamic. */
function importSpecifiers(source: string): string[] {
  return [...source.matchAll(importPattern)].map((m) => (m[1] ?? m[2] ?? m[3]) as string);
}

/**
 * The entry directly under src/ (a folder, or a file at its root) that an import from `file` lands
 * in; null for another package. This package's own name is its root (`index.ts`) or one of its
 * exports, so it cannot go around the rule.
 */
function srcEntryOf(file: string, specifier: string): string | null {
  if (specifier === '@flotilla/server') return 'index.ts';
  if (specifier.startsWith('@flotilla/server/')) return specifier;
  if (!specifier.startsWith('.')) return null;
  const path = relative(src, resolve(dirname(file), specifier));
  if (path.startsWith('..')) return `outside src: ${path}`;
  return path.split(sep)[0] as string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !/\.test(\.helper)?\.ts$/.test(name))
    .map((name) => join(dir, name));
}

function importsOf(file: string): Array<{ specifier: string; entry: string | null }> {
  return importSpecifiers(readFileSync(file, 'utf8')).map((specifier) => ({
    specifier,
    entry: srcEntryOf(file, specifier),
  }));
}

describe('server layers', () => {
  it('reads the import specifiers of a file and resolves relative ones to their folder under src/', () => {
    const source = [
      "import { a } from '../catalog/routes.ts';",
      "import type {\n  B,\n} from './feature-deps.ts';",
      "export { c } from '../checkin/forwarded.ts';",
      "import './side-effect.ts';",
      "const d = await import('../logs/service.ts');",
      "import Fastify from 'fastify';",
    ].join('\n');
    const file = join(src, 'http', 'example.ts');
    expect(importSpecifiers(source).map((s) => [s, srcEntryOf(file, s)])).toEqual([
      ['../catalog/routes.ts', 'catalog'],
      ['./feature-deps.ts', 'http'],
      ['../checkin/forwarded.ts', 'checkin'],
      ['./side-effect.ts', 'http'],
      ['../logs/service.ts', 'logs'],
      ['fastify', null],
    ]);
    expect(srcEntryOf(file, '../start.ts')).toBe('start.ts');
    expect(srcEntryOf(file, '@flotilla/server')).toBe('index.ts');
    expect(srcEntryOf(file, '@flotilla/server/cli-surface')).toBe('@flotilla/server/cli-surface');
  });

  it('http/ imports no feature folder and not the composition root', () => {
    const files = sourceFiles(join(src, 'http'));
    expect(files.map((f) => relative(src, f))).toContain(join('http', 'app.ts'));
    const upward = files.flatMap((file) =>
      importsOf(file)
        .filter(({ entry }) => entry !== null && !belowFeatures.has(entry))
        .map(({ specifier }) => `${relative(src, file)} imports ${specifier}`),
    );
    expect(upward).toEqual([]);
  });

  it('no feature imports the composition root', () => {
    const folders = readdirSync(src, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    const files = folders.flatMap((folder) => sourceFiles(join(src, folder.name)));
    expect(files.length).toBeGreaterThan(50);
    const upward = files.flatMap((file) =>
      importsOf(file)
        .filter(({ entry }) => entry !== null && compositionRoot.includes(entry))
        .map(({ specifier }) => `${relative(src, file)} imports ${specifier}`),
    );
    expect(upward).toEqual([]);
  });
});
