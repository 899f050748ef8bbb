#!/usr/bin/env node
// The entry point, kept to syntax that old Node parses: it checks the version before anything that
// needs a newer Node loads (older ones die on `node:sqlite` with a message that says nothing).
const needed = '22.16';
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const [needMajor = 0, needMinor = 0] = needed.split('.').map(Number);
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  process.stderr.write(`flotilla needs Node.js ${needed} or newer; this is ${process.version}\n`);
  process.exit(1);
}
// `flotilla agent` loads only the agent's code; every other command the whole program.
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
(command === 'agent' ? import('./agent-program.ts') : import('./program.ts')).then(
  (program) => program.run(process.argv),
  (err: Error) => {
    process.stderr.write(`flotilla: ${err.stack || err.message}\n`);
    process.exit(1);
  },
);
