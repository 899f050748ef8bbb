// Loaded with `--import=<this file's URL>`: @flotilla/server resolves as on a host that never
// installed it (looked up from the file system root), so Node throws its own "Cannot find package".
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    const server = specifier === '@flotilla/server' || specifier.startsWith('@flotilla/server/');
    return next(specifier, server ? { ...context, parentURL: 'file:///' } : context);
  },
});
