// Applies a client's settings trees to an unpacked developer version. Everything is read, merged,
// expanded and checked first; only then is anything written (see write-staged.ts).
import { readFileSync, realpathSync } from 'node:fs';
import { BuildInputError, expandMacros, isMacroName, type Macros, parseDefines } from '../macros.ts';
import { mergeHoconFiles } from './hocon-merge.ts';
import { parseHocon } from './hocon-parser.ts';
import { mergeJsonFiles, parseJson } from './json-merge.ts';
import { agentMacros, checkManifest, manifestFile } from './manifest-check.ts';
import { formatOf, planOverlays, type SettingsFileRef, type SettingsFormat } from './overlay-plan.ts';
import { mergePropertiesFiles } from './properties-merge.ts';
import { decodeText, macroNames, readText } from './text-files.ts';
import { resolveForWrite, type TreeFile, walkTree } from './tree-walk.ts';
import { type Output, writeStaged } from './write-staged.ts';

export interface SettingsTree {
  /** Names the tree in errors and in the report (`acme/conf/app.conf`). */
  name: string;
  dir: string;
}

export interface OverlayLimits {
  /** Each overlay, `.defines` and added settings file that is parsed or expanded. */
  maxSettingsFileBytes: number;
  /** Each build-tree file that is merged or expanded; larger untouched files are not scanned. */
  maxTextFileBytes: number;
  /** Files in one settings tree. */
  maxSettingsFiles: number;
}

export const defaultOverlayLimits: OverlayLimits = {
  maxSettingsFileBytes: 4 * 1024 * 1024,
  maxTextFileBytes: 16 * 1024 * 1024,
  maxSettingsFiles: 10_000,
};

export interface OverlayOptions {
  buildDir: string;
  settings: readonly SettingsTree[];
  /** Command-line macros: the defaults of every file; a file's `.defines` overrides them. */
  macros?: Macros;
  limits?: Partial<OverlayLimits>;
}

export interface AppliedFile {
  path: string;
  action: 'merged' | 'added' | 'replaced' | 'expanded';
  /** `text`: expanded with a `.defines`; `file`: copied as it is, never read. */
  format: SettingsFormat | 'text' | 'file';
  /** The settings file whose content was added or replaced the original. */
  from?: string;
  /** Overlays in the order they were applied. */
  overlays: string[];
  definesFiles: string[];
  /** Each macro expanded in the file, with where its value came from (values are not recorded). */
  macros: Record<string, string>;
}

export interface OverlayReport {
  files: AppliedFile[];
  /** The install manifest was completed or expanded and checked against its schema. */
  manifestChecked: boolean;
}

/** A file only expanded (or added) must still parse: a macro value can break JSON or HOCON. */
function checkSyntax(rel: string, text: string, label: string): void {
  if (formatOf(rel) === 'json') parseJson(text, label);
  else if (formatOf(rel) === 'conf') parseHocon(text, label);
}

interface MacroContext {
  macros: Record<string, string>;
  sources: Record<string, string>;
  used: Record<string, string>;
  /** `%%version%%` and `%%role%%` of the install manifest are the agent's. */
  manifest: boolean;
}

interface Computed {
  outputs: Output[];
  report: OverlayReport;
}

export function applyOverlays(options: OverlayOptions): OverlayReport {
  const { outputs, report } = computeOverlays(options);
  writeStaged(outputs);
  return report;
}

/** Everything `applyOverlays` does but the writing: throws the same errors, touches nothing. */
export function computeOverlays(options: OverlayOptions): Computed {
  const limits = { ...defaultOverlayLimits, ...options.limits };
  const cli = options.macros ?? {};
  for (const name of Object.keys(cli))
    if (!isMacroName(name)) throw new BuildInputError('--macro', undefined, `'${name}' is not a macro name`);
  const names = new Set<string>();
  for (const tree of options.settings) {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(tree.name) || tree.name.startsWith('.') || names.has(tree.name))
      throw new BuildInputError(tree.name, undefined, 'a settings tree needs a unique plain name');
    names.add(tree.name);
  }

  const buildRoot = realpathSync(options.buildDir);
  const build = walkTree(buildRoot, { label: '', strict: false, maxFiles: Number.MAX_SAFE_INTEGER });
  const trees = options.settings.map((tree) =>
    walkTree(tree.dir, { label: `${tree.name}/`, strict: true, maxFiles: limits.maxSettingsFiles, skipDirs: ['.git'] }),
  );
  const label = (tree: number, rel: string) => `${options.settings[tree]?.name}/${rel}`;
  const settingsFile = (ref: SettingsFileRef): TreeFile => trees[ref.tree]?.get(ref.rel) as TreeFile;
  const readSettings = (ref: SettingsFileRef) => {
    const file = settingsFile(ref);
    return readText(file.abs, file.size, limits.maxSettingsFileBytes, label(ref.tree, ref.rel));
  };

  const plans = planOverlays(
    new Set(build.keys()),
    trees.map((t) => [...t.keys()]),
    label,
  );
  const outputs: Output[] = [];
  const files: AppliedFile[] = [];
  let manifestChecked = false;

  // Expands one text with its file's macros and notes where each value used came from.
  const expand = (text: string, file: string, ctx: MacroContext) => {
    const out = expandMacros(text, ctx.macros, file);
    for (const name of macroNames(text)) {
      const source = ctx.sources[name];
      if (source && !(ctx.manifest && Object.hasOwn(agentMacros, name))) ctx.used[name] = source;
    }
    return out;
  };

  const finish = (rel: string, text: string) => {
    if (rel === manifestFile) {
      checkManifest(parseJson(text, manifestFile), manifestFile);
      manifestChecked = true;
    }
    outputs.push({ dest: resolveForWrite(buildRoot, rel), content: text });
  };

  for (const plan of plans.values()) {
    const macros: Record<string, string> = { ...cli };
    const sources: Record<string, string> = Object.fromEntries(Object.keys(cli).map((k) => [k, 'command line']));
    for (const ref of plan.defines) {
      for (const [name, value] of Object.entries(parseDefines(readSettings(ref), label(ref.tree, ref.rel)))) {
        macros[name] = value;
        sources[name] = label(ref.tree, ref.rel);
      }
    }
    if (plan.rel === manifestFile) Object.assign(macros, agentMacros);
    const used: Record<string, string> = {};
    const ctx: MacroContext = { macros, sources, used, manifest: plan.rel === manifestFile };
    const entry: AppliedFile = {
      path: plan.rel,
      action: plan.overlays.length > 0 ? 'merged' : plan.source ? (plan.existed ? 'replaced' : 'added') : 'expanded',
      format: plan.format ?? 'text',
      overlays: plan.overlays.map((o) => label(o.tree, o.rel)),
      definesFiles: plan.defines.map((d) => label(d.tree, d.rel)),
      macros: used,
    };
    if (plan.source) entry.from = label(plan.source.tree, plan.source.rel);

    // The original: from a settings tree when one supplies the file, else from the build tree.
    const original = plan.source
      ? {
          label: label(plan.source.tree, plan.source.rel),
          file: settingsFile(plan.source),
          limit: limits.maxSettingsFileBytes,
        }
      : { label: plan.rel, file: build.get(plan.rel) as TreeFile, limit: limits.maxTextFileBytes };

    if (!plan.format && plan.defines.length === 0) {
      // a file added or replaced as it is: copied, never read (it may be binary and large)
      entry.format = 'file';
      outputs.push({ dest: resolveForWrite(buildRoot, plan.rel), copyFrom: original.file.abs });
      files.push(entry);
      continue;
    }
    const text = expand(
      readText(original.file.abs, original.file.size, original.limit, original.label),
      original.label,
      ctx,
    );
    const overlays = plan.overlays.map((ref) => ({
      file: label(ref.tree, ref.rel),
      text: expand(readSettings(ref), label(ref.tree, ref.rel), ctx),
    }));
    const base = { file: original.label, text };
    let merged = text;
    if (overlays.length === 0) checkSyntax(plan.rel, text, base.file);
    else if (plan.format === 'json') merged = mergeJsonFiles(base, overlays).text;
    else if (plan.format === 'conf') merged = mergeHoconFiles(base, overlays);
    else if (plan.format === 'properties') merged = mergePropertiesFiles(base, overlays);
    finish(plan.rel, merged);
    files.push(entry);
  }

  // Settings files of the build tree that no overlay touched still get their macros expanded.
  for (const file of build.values()) {
    if (plans.has(file.rel) || !formatOf(file.rel) || file.size > limits.maxTextFileBytes) continue;
    const text = decodeText(readFileSync(file.abs));
    if (text === undefined || macroNames(text).length === 0) continue;
    const manifest = file.rel === manifestFile;
    const ctx: MacroContext = {
      macros: manifest ? { ...cli, ...agentMacros } : { ...cli },
      sources: Object.fromEntries(Object.keys(cli).map((k) => [k, 'command line'])),
      used: {},
      manifest,
    };
    const expanded = expand(text, file.rel, ctx);
    if (expanded === text) continue;
    checkSyntax(file.rel, expanded, file.rel);
    finish(file.rel, expanded);
    const format = formatOf(file.rel) ?? 'text';
    files.push({ path: file.rel, action: 'expanded', format, overlays: [], definesFiles: [], macros: ctx.used });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { outputs, report: { files, manifestChecked } };
}
