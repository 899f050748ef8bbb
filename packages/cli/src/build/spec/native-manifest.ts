// The manifest of a flotilla-build.json entry, taken as written: only the --macro values are expanded.
import type { InstallManifest } from '@flotilla/protocol';
import { BuildInputError, expandMacros, type Macros } from '../macros.ts';
import { agentMacros, nativeSpecFileName } from './spec-files.ts';
import type { Translation } from './to-manifest.ts';

function expandAll(value: unknown, path: string, macros: Macros): unknown {
  if (typeof value === 'string') return expandMacros(value, macros, `${nativeSpecFileName} ${path}`);
  if (Array.isArray(value)) return value.map((v, i) => expandAll(v, `${path}[${i}]`, macros));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandAll(v, `${path}.${k}`, macros)]));
  }
  return value;
}

export function nativeManifest(manifest: InstallManifest | undefined, macros: Macros): Translation {
  if (manifest?.provenance !== undefined) {
    throw new BuildInputError(nativeSpecFileName, undefined, 'manifest.provenance: is written by the build');
  }
  const expanded = expandAll(manifest ?? {}, 'manifest', { ...macros, ...agentMacros }) as InstallManifest;
  return { manifest: expanded, notes: [] };
}
