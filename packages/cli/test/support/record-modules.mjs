// Loaded with `--import=<this file's URL>?record=<file>`: appends every module this process
// resolves, as "<pid>\t<url>", to that file. The file travels in the URL, not the environment,
// because the agent starts its worker with its Node options but a service's clean environment.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = new URL(import.meta.url).searchParams.get('record');
if (file) {
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      appendFileSync(file, `${process.pid}\t${resolved.url}\n`);
      return resolved;
    },
  });
}
