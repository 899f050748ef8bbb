import type { Command } from 'commander';
import { ApiClient, resolveLogin } from './api-client.ts';

export interface ApiFlags {
  server?: string;
  token?: string;
  json?: boolean;
}

/** Adds the options every API command takes. */
export function withApiOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'server URL (else FLOTILLA_SERVER, else the saved login)')
    .option('--token <token>', 'API token (else FLOTILLA_TOKEN, else the saved login)')
    .option('--json', 'print JSON for scripts instead of a table');
}

export function clientFor(flags: ApiFlags): ApiClient {
  return new ApiClient(resolveLogin(flags));
}
