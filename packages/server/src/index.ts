export { generatePassword } from './accounts/password.ts';
export { createAccountsService } from './accounts/service.ts';
export { type AppConfig, resolveServerConfig, type ServerConfig } from './config/config.ts';
export { formatDuration, parseDuration } from './config/duration.ts';
export { type ServerOptions, serverOptionTable } from './config/schema.ts';
export { openDatabase } from './db/connection.ts';
export { migrateToLatest } from './db/migrate.ts';
export { ConfigError } from './errors.ts';
export { type RunningServer, type StartOptions, serverVersion, startServer } from './start.ts';
