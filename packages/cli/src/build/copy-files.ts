// copyFiles of update.json: files and directories of the sources into the build directory, with
// exclusions and the entry's `settings` macros substituted in text files. Nothing is read from
// outside the sources or written outside the build directory, through `..` or through a symlink.
import {
  chmodSync,
  copyFileSync,
  type Dirent,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, matchesGlob, relative, resolve, sep } from 'node:path';
import type { SpecCopyFile } from '@flotilla/protocol';
import { BuildInputError, expandMacros, type Macros } from './macros.ts';
import { isInside } from './run-commands.ts';
import { nameValues, specFileName } from './spec/spec-files.ts';

/** Text files up to this size get macros substituted; larger files are copied byte for byte. */
export const maxSubstitutedBytes = 16 * 1024 * 1024;

export interface CopyOptions {
  sourcesDir: string;
  firstRoot: string;
  buildDir: string;
  /** `%%version%%` and the --macro values, for the values of `settings`. */
  macros: Macros;
  /** The spec the entries come from, for messages (default update.json). */
  specFile?: string;
}

export interface CopyStats {
  files: number;
  bytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function asText(buf: Buffer): string | undefined {
  if (buf.subarray(0, 8192).includes(0)) return undefined;
  try {
    return utf8.decode(buf);
  } catch {
    return undefined;
  }
}

const posixPath = (p: string) => p.split(sep).join('/');

class Copier {
  readonly #opts: CopyOptions;
  readonly #realBuild: string;
  readonly #checkedDirs = new Set<string>();
  readonly #specFile: string;
  readonly stats: CopyStats = { files: 0, bytes: 0 };

  constructor(opts: CopyOptions) {
    this.#opts = opts;
    this.#specFile = opts.specFile ?? specFileName;
    mkdirSync(opts.buildDir, { recursive: true });
    this.#realBuild = realpathSync(opts.buildDir);
  }

  copy(entry: SpecCopyFile, where: string): void {
    const fail = (reason: string): never => {
      throw new BuildInputError(this.#specFile, undefined, `${where}: ${reason}`);
    };
    const { sourcesDir, firstRoot, buildDir } = this.#opts;
    if (isAbsolute(entry.sourceFile)) fail(`sourceFile ${entry.sourceFile} must be relative`);
    if (isAbsolute(entry.destinationFile)) fail(`destinationFile ${entry.destinationFile} must be relative`);
    const src = resolve(firstRoot, entry.sourceFile);
    if (!isInside(sourcesDir, src) || src === sourcesDir) fail(`sourceFile ${entry.sourceFile} is outside the sources`);
    let realSrc = '';
    try {
      realSrc = realpathSync(src);
    } catch {
      fail(`sourceFile ${entry.sourceFile} does not exist`);
    }
    if (!isInside(realpathSync(sourcesDir), realSrc)) {
      fail(`sourceFile ${entry.sourceFile} leads outside the sources through a symlink`);
    }
    const toBuild = resolve(buildDir, entry.destinationFile);
    if (!isInside(buildDir, toBuild)) fail(`destinationFile ${entry.destinationFile} is outside the build directory`);
    const settings = this.#settings(entry, where);
    if (statSync(realSrc).isDirectory()) {
      this.#walk(realSrc, toBuild, '', entry.except ?? [], settings, where);
    } else {
      const intoDir =
        /[/\\]$/.test(entry.destinationFile) || statSync(toBuild, { throwIfNoEntry: false })?.isDirectory();
      this.#file(realSrc, intoDir ? join(toBuild, basename(realSrc)) : toBuild, settings, entry.sourceFile, where);
    }
  }

  #settings(entry: SpecCopyFile, where: string): Macros | undefined {
    if (entry.settings === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(nameValues(entry.settings))) {
      out[name] = expandMacros(value, this.#opts.macros, `${this.#specFile} ${where}.settings.${name}`);
    }
    return out;
  }

  #walk(dir: string, to: string, rel: string, except: string[], settings: Macros | undefined, where: string): void {
    this.#ensureDir(to, where);
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const d of entries) {
      const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.name === '.git' || this.#excluded(childRel, d.name, except)) continue;
      const from = join(dir, d.name);
      const dest = join(to, d.name);
      if (d.isDirectory()) this.#walk(from, dest, childRel, except, settings, where);
      else if (d.isSymbolicLink()) this.#link(from, dest, childRel, where);
      else if (d.isFile()) this.#file(from, dest, settings, childRel, where);
      else this.#refuse(d, childRel, where);
    }
  }

  #excluded(rel: string, name: string, except: string[]): boolean {
    return except.some((p) => {
      const pattern = p.replace(/^\.\//, '').replace(/\/(\*\*)?$/, '');
      return matchesGlob(rel, pattern) || (!pattern.includes('/') && matchesGlob(name, pattern));
    });
  }

  #refuse(d: Dirent, rel: string, where: string): never {
    throw new BuildInputError(
      this.#specFile,
      undefined,
      `${where}: ${rel} is not a file, directory or symlink (${d.name})`,
    );
  }

  /** A directory on the build side, refused when an earlier symlink would take it outside. */
  #ensureDir(dir: string, where: string): void {
    if (this.#checkedDirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    if (!isInside(this.#realBuild, realpathSync(dir))) {
      throw new BuildInputError(
        this.#specFile,
        undefined,
        `${where}: ${relative(this.#opts.buildDir, dir)} leads outside the build directory`,
      );
    }
    this.#checkedDirs.add(dir);
  }

  #file(from: string, dest: string, settings: Macros | undefined, rel: string, where: string): void {
    const inBuild = posixPath(relative(this.#opts.buildDir, dest));
    if (inBuild === 'flotilla.json') {
      throw new BuildInputError(
        this.#specFile,
        undefined,
        `${where}: flotilla.json is written by the build, not copied`,
      );
    }
    this.#ensureDir(dirname(dest), where);
    if (lstatSync(dest, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new BuildInputError(this.#specFile, undefined, `${where}: ${inBuild} would be written through a symlink`);
    }
    const st = statSync(from);
    this.stats.files++;
    this.stats.bytes += st.size;
    if (settings && st.size <= maxSubstitutedBytes) {
      const buf = readFileSync(from);
      const text = buf.includes('%%') ? asText(buf) : undefined;
      if (text !== undefined) {
        writeFileSync(dest, expandMacros(text, settings, rel, 'keep'), { mode: st.mode & 0o777 });
        chmodSync(dest, st.mode & 0o777);
        return;
      }
    }
    copyFileSync(from, dest);
  }

  #link(from: string, dest: string, rel: string, where: string): void {
    const target = readlinkSync(from);
    if (isAbsolute(target) || !isInside(this.#opts.buildDir, resolve(dirname(dest), target))) {
      throw new BuildInputError(
        this.#specFile,
        undefined,
        `${where}: symlink ${rel} -> ${target} points outside the version`,
      );
    }
    this.#ensureDir(dirname(dest), where);
    if (lstatSync(dest, { throwIfNoEntry: false })) {
      throw new BuildInputError(this.#specFile, undefined, `${where}: ${rel} is copied twice`);
    }
    symlinkSync(target, dest);
    this.stats.files++;
  }
}

/** Copies every entry in order into the build directory (later entries overwrite earlier files). */
export function copyFiles(entries: SpecCopyFile[], opts: CopyOptions): CopyStats {
  const copier = new Copier(opts);
  entries.forEach((entry, i) => {
    copier.copy(entry, `build.copyFiles[${i}]`);
  });
  return copier.stats;
}
