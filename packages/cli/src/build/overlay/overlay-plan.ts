// Decides what each settings file does to the build tree: merge into a file, define its macros,
// replace it or add it. Pure: it sees only the lists of relative paths.
import { BuildInputError } from '../macros.ts';

export type SettingsFormat = 'json' | 'conf' | 'properties';

export interface SettingsFileRef {
  /** Index of the settings tree in the order given. */
  tree: number;
  rel: string;
  /** Overlay index: 0 for a file of the same name, N for `name.N.ext`. */
  index: number;
}

export interface TargetPlan {
  rel: string;
  format: SettingsFormat | undefined;
  /** The file's content comes from a settings tree (added, or replacing a file that cannot merge). */
  source: SettingsFileRef | undefined;
  existed: boolean;
  overlays: SettingsFileRef[];
  defines: SettingsFileRef[];
}

export const definesSuffix = '.defines';
const indexed = /^(.*)\.([1-9][0-9]{0,3})\.(json|conf|properties)$/;

export function formatOf(rel: string): SettingsFormat | undefined {
  const m = /\.(json|conf|properties)$/.exec(rel);
  return m ? (m[1] as SettingsFormat) : undefined;
}

/** `conf/app.2.conf` → `{ base: 'conf/app.conf', index: 2 }`; anything else → undefined. */
export function indexedOverlay(rel: string): { base: string; index: number } | undefined {
  const m = indexed.exec(rel);
  return m ? { base: `${m[1]}.${m[3]}`, index: Number(m[2]) } : undefined;
}

/**
 * `build` holds the build tree's relative paths; `trees[i]` those of settings tree i, in order, and
 * `label(tree, rel)` names a settings file in errors.
 */
export function planOverlays(
  build: ReadonlySet<string>,
  trees: readonly (readonly string[])[],
  label: (tree: number, rel: string) => string,
): Map<string, TargetPlan> {
  // Files that exist once settings are in: the build tree's, and plain names the settings add.
  const known = new Set(build);
  const all = trees.flat().filter((rel) => !rel.endsWith(definesSuffix));
  for (const rel of all) if (!indexedOverlay(rel)) known.add(rel);
  // `name.N.ext` overlays `name.ext` when that file exists; otherwise it is a file of its own
  const numbered = (rel: string) => {
    const m = known.has(rel) ? undefined : indexedOverlay(rel);
    return m && known.has(m.base) ? m : undefined;
  };
  for (const rel of all) if (!numbered(rel)) known.add(rel);

  const targets = new Map<string, TargetPlan>();
  const target = (rel: string): TargetPlan => {
    let plan = targets.get(rel);
    if (!plan) {
      plan = { rel, format: formatOf(rel), source: undefined, existed: build.has(rel), overlays: [], defines: [] };
      targets.set(rel, plan);
    }
    return plan;
  };

  trees.forEach((rels, tree) => {
    for (const rel of rels) {
      if (rel.endsWith(definesSuffix)) {
        const of = rel.slice(0, -definesSuffix.length);
        if (!known.has(of)) {
          const hint = indexedOverlay(of) ? `; overlays take the macros of ${indexedOverlay(of)?.base}` : '';
          throw new BuildInputError(
            label(tree, rel),
            undefined,
            `defines macros of ${of}, which neither tree has${hint}`,
          );
        }
        target(of).defines.push({ tree, rel, index: 0 });
        continue;
      }
      const overlay = numbered(rel);
      const plan = target(overlay?.base ?? rel);
      const ref = { tree, rel, index: overlay?.index ?? 0 };
      if (overlay || (plan.format && (plan.existed || plan.source))) plan.overlays.push(ref);
      else plan.source = ref; // added, or replaces a file that cannot be merged
    }
  });

  // index order first (numeric: 2 before 10), then the order of the settings trees
  for (const plan of targets.values()) plan.overlays.sort((a, b) => a.index - b.index || a.tree - b.tree);
  return targets;
}
