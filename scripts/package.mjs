// Builds every workspace and writes release/: one tarball per package (what `npm publish` would
// upload) and flotilla-<version>.tgz, which installs the `flotilla` command with the server, agent,
// dashboard and protocol inside it: `npm install -g ./release/flotilla-<version>.tgz`. An agent host
// installs the protocol, agent and cli tarballs alone (the server is an optional peer of the cli).
//
//   npm run package [-- --no-build] [-- --out <dir>]
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = resolve(outIndex >= 0 ? (args[outIndex + 1] ?? 'release') : join(root, 'release'));
const workspaces = ['protocol', 'sdk', 'dashboard', 'server', 'agent', 'cli'];
const require = createRequire(join(root, 'packages/server/package.json'));
const semver = require('semver');
const npm = (argv, cwd = root) =>
  execFileSync('npm', argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

// Incremental: tsc -b skips what is up to date, and the dashboard is rebuilt only when its sources
// changed, so packing never empties a dashboard that a running server is serving.
if (!args.includes('--no-build')) {
  process.stderr.write('package: building what changed\n');
  const tsc = join(root, 'node_modules/.bin/tsc');
  const built = ['protocol', 'sdk', 'server', 'agent', 'cli'].map((p) => `packages/${p}`);
  execFileSync(tsc, ['-b', ...built], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs')], { cwd: root, stdio: 'inherit' });
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

/** Of two ranges for one dependency, the one within the other; ranges that do not nest stop the build. */
function narrower(dep, a, b) {
  if (a === undefined || a === b) return b;
  if (semver.subset(a, b)) return a;
  if (semver.subset(b, a)) return b;
  throw new Error(`package: ${dep} is wanted as ${a} and as ${b}; make the workspaces agree`);
}

/** One tarball per workspace, named as npm names scoped packages (flotilla-server-0.1.0.tgz). */
const tarballs = {};
for (const name of workspaces) {
  const [packed] = JSON.parse(npm(['pack', '-w', `@flotilla/${name}`, '--pack-destination', out, '--json']));
  tarballs[`@flotilla/${name}`] = join(out, packed.filename);
}

// The command's tarball with its @flotilla dependencies bundled: third-party packages still come
// from the registry at install time, so the file stays small and no dependency is pinned twice.
const stage = mkdtempSync(join(tmpdir(), 'flotilla-package-'));
try {
  const extract = (tarball, dir) => {
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', dir, '--strip-components=1']);
  };
  extract(tarballs['@flotilla/cli'], stage);
  const manifest = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8'));
  // The plain command leaves the server an optional peer, so an agent host goes without it; the
  // bundle is the whole control plane, so its @flotilla peers become bundled dependencies.
  for (const [dep, range] of Object.entries(manifest.peerDependencies ?? {})) {
    if (!dep.startsWith('@flotilla/')) continue;
    manifest.dependencies[dep] = range;
    delete manifest.peerDependencies[dep];
    delete manifest.peerDependenciesMeta?.[dep];
  }
  for (const key of ['peerDependencies', 'peerDependenciesMeta']) {
    if (manifest[key] && Object.keys(manifest[key]).length === 0) delete manifest[key];
  }
  const bundled = [];
  const visit = (name) => {
    if (bundled.includes(name) || !tarballs[name]) return;
    bundled.push(name);
    const dir = join(stage, 'node_modules', name);
    extract(tarballs[name], dir);
    const deps = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).dependencies ?? {};
    for (const dep of Object.keys(deps)) visit(dep);
  };
  for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep);
  manifest.bundleDependencies = bundled.sort();
  // npm installs nothing that a bundled package depends on and takes it all to be in the bundle,
  // so the command names every third-party dependency itself and the bundled copies name none.
  for (const name of bundled) {
    const file = join(stage, 'node_modules', name, 'package.json');
    const inner = JSON.parse(readFileSync(file, 'utf8'));
    for (const [dep, range] of Object.entries(inner.dependencies ?? {})) {
      if (dep.startsWith('@flotilla/')) continue;
      manifest.dependencies[dep] = narrower(dep, manifest.dependencies[dep], range);
      delete inner.dependencies[dep];
    }
    writeFileSync(file, `${JSON.stringify(inner, null, 2)}\n`);
  }
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));
  // Packed inside the stage first: its npm name is the same as the plain @flotilla/cli tarball's.
  const [packed] = JSON.parse(npm(['pack', '--json'], stage));
  const target = join(out, `flotilla-${manifest.version}.tgz`);
  renameSync(join(stage, packed.filename), target);
  process.stdout.write(
    `${Object.values(tarballs)
      .map((t) => `${t}\n`)
      .join('')}${target}  (the flotilla command with ${bundled.join(', ')} bundled)\n`,
  );
} finally {
  rmSync(stage, { recursive: true, force: true });
}
