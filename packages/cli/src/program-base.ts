import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { CliError } from './api-client.ts';

export const cliVersion: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** The `flotilla` command with its global options and no subcommands. */
export function baseProgram(): Command {
  return new Command('flotilla')
    .description('a self-hosted control plane for software that runs on many machines')
    .version(cliVersion, '-V, --version', 'print the version')
    .addOption(new Option('--verbose', 'show the HTTP method, path and status of a failed request'))
    .showHelpAfterError()
    .exitOverride();
}

/** Runs a command line on `program`; failures become one line on stderr and a non-zero exit. */
export async function runProgram(program: Command, argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    // Parsed before any action runs, so it is known whenever a command fails.
    const verbose = program.opts().verbose === true;
    if (err instanceof CliError) {
      process.stderr.write(`flotilla: ${verbose && err.detail ? `${err.detail}: ` : ''}${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`flotilla: ${verbose ? ((err as Error).stack ?? err) : (err as Error).message}\n`);
    process.exit(1);
  }
}
