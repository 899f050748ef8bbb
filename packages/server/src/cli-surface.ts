// What the `flotilla` command needs of the server before a server command runs. Only light modules,
// so that `flotilla agent` and the API commands never load Fastify, Kysely or the database drivers.
export { generatePassword } from './accounts/password.ts';
export { parseDuration } from './config/duration.ts';
export { type ServerOptions, serverOptionTable } from './config/options.ts';
