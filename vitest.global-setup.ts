import { execFileSync } from 'node:child_process';

/** Builds the dashboard once, before any test file, when its sources changed (its browser tests serve it). */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/ensure-dashboard.mjs', '--quiet'], { stdio: 'inherit' });
}
