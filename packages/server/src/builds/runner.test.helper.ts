// A fake builder for the queue's tests: a real child process that does what its `--macro act=…` says.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const script = `
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const args = process.argv.slice(2);
const macros = {};
args.forEach((a, i) => { if (args[i - 1] === '--macro') { const eq = a.indexOf('='); macros[a.slice(0, eq)] = a.slice(eq + 1); } });
const job = args[args.indexOf('--server-job') + 1];
const id = job.split('/').pop();
const trace = (what) => macros.trace && fs.appendFileSync(macros.trace, id + ' ' + what + '\\n');
trace('start');
console.log('args: ' + JSON.stringify(args));
console.log('token: ' + (process.env.FLOTILLA_TOKEN || '').slice(0, 4) + ' server: ' + process.env.FLOTILLA_SERVER);
console.log('admin token passed: ' + ('FLOTILLA_ADMIN_TOKEN' in process.env));
const walk = (dir, rel) => { for (const n of fs.readdirSync(dir).sort()) { const p = dir + '/' + n; const r = rel ? rel + '/' + n : n;
  if (fs.statSync(p).isDirectory()) walk(p, r); else console.log('private ' + r + ' mode ' + (fs.statSync(p).mode & 0o777).toString(8) + ' ' + fs.readFileSync(p, 'utf8')); } };
walk(job + '/private', '');
const done = () => { trace('end'); };
if (macros.act === 'fail') { console.error('flotilla: build failed, nothing published: it broke'); console.error('build log: x'); done(); process.exit(1); }
if (macros.act === 'flood') { process.stdout.write('x'.repeat(100000) + '\\n', () => { done(); process.exit(0); }); }
else if (macros.act === 'hang') {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  fs.writeFileSync(macros.pidfile, String(child.pid));
  process.on('SIGTERM', () => {});
  setInterval(() => {}, 1000);
} else {
  setTimeout(() => { fs.writeFileSync(job + '/result.json', JSON.stringify({ version: '1.0.' + id })); done(); }, Number(macros.ms || 50));
}
`;

/** Writes the fake builder into `dir`; the command that runs it. */
export function fakeBuilder(dir: string): { command: string; args: string[] } {
  const path = join(dir, 'fake-builder.cjs');
  writeFileSync(path, script);
  return { command: process.execPath, args: [path] };
}
