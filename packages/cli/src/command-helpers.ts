import { type Command, Option } from 'commander';
import { ApiClient, CliError, resolveLogin } from './api-client.ts';

export interface ApiFlags {
  server?: string;
  token?: string;
  json?: boolean;
}

/** Adds the options every API command takes; FLOTILLA_SERVER and FLOTILLA_TOKEN show once each. */
export function withApiOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', 'server URL (default: the saved login)').env('FLOTILLA_SERVER'))
    .addOption(new Option('--token <token>', 'API token (default: the saved login)').env('FLOTILLA_TOKEN'))
    .option('--json', 'print JSON for scripts instead of a table');
}

export function clientFor(flags: ApiFlags): ApiClient {
  return new ApiClient(resolveLogin(flags));
}

/** A whole number within bounds, for options such as --limit. */
export function wholeNumber(name: string, text: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new CliError(`${name} takes a whole number ${range}; got "${text}"`, 2);
  }
  return n;
}

/** A count option such as `--limit <n>`: a whole number from 1 to `max`, `fallback` when not given. */
export function countOption(flags: string, description: string, fallback: number, max?: number): Option {
  const name = flags.split(' ')[0] as string;
  return new Option(flags, description).argParser((text: string) => wholeNumber(name, text, 1, max)).default(fallback);
}
