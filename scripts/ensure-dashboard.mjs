// Builds the dashboard (packages/dashboard/dist) when it is missing or older than its sources,
// so `npm start` on a fresh clone serves it. Quick when it is up to date: it only compares times.
//
//   node scripts/ensure-dashboard.mjs [--quiet]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'packages/dashboard');
const built = join(pkg, 'dist/index.html');
const quiet = process.argv.includes('--quiet');

/** The newest modification time among the files that go into the build. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const name of readdirSync(path)) {
    if (/\.test\.tsx?$/.test(name)) continue;
    max = Math.max(max, newest(join(path, name)));
  }
  return max;
}

const inputs = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((p) => newest(join(pkg, p)));
const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
if (builtAt > 0 && builtAt >= Math.max(...inputs)) {
  if (!quiet) console.log('dashboard: up to date');
  process.exit(0);
}

const vite = join(root, 'node_modules/vite/bin/vite.js');
if (!existsSync(vite)) {
  console.error('dashboard: vite is not installed; run `npm ci` at the repository root first');
  process.exit(1);
}
console.log(builtAt ? 'dashboard: sources changed, rebuilding' : 'dashboard: not built yet, building');
// Built beside dist/ and swapped in, so a server (or a parallel build) never serves a half-written tree.
const fresh = join(pkg, `dist.building-${process.pid}`);
const result = spawnSync(
  process.execPath,
  [vite, 'build', '--outDir', fresh, '--emptyOutDir', '--logLevel', quiet ? 'error' : 'warn'],
  // A production build even when called from a test run (vitest sets NODE_ENV=test, and vite
  // would then bundle React's development build, twice the size). No compile cache: it would land in
  // the caller's TMPDIR (a test's, which must end empty).
  { cwd: pkg, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production', NODE_DISABLE_COMPILE_CACHE: '1' } },
);
if (result.status !== 0) {
  rmSync(fresh, { recursive: true, force: true });
  process.exit(result.status ?? 1);
}
const old = join(pkg, `dist.old-${process.pid}`);
if (existsSync(join(pkg, 'dist'))) renameSync(join(pkg, 'dist'), old);
renameSync(fresh, join(pkg, 'dist'));
rmSync(old, { recursive: true, force: true });
