#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { CliError } from './api-client.ts';

const cliVersion: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

import { registerAccountsCommands } from './commands/accounts.ts';
import { registerAgentCommands } from './commands/agent.ts';
import { registerCatalogCommands } from './commands/catalog.ts';
import { registerDesiredCommands } from './commands/desired.ts';
import { registerFaultsCommands } from './commands/faults.ts';
import { registerFleetCommands } from './commands/fleet.ts';
import { registerLogsCommands } from './commands/logs.ts';
import { registerRolloutCommands } from './commands/rollouts.ts';
import { registerServerCommand } from './commands/server.ts';

/** The one `flotilla` command; each subcommand lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('flotilla')
    .description('Flotilla: a self-hosted control plane for software that runs on many machines')
    .version(cliVersion, '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  registerServerCommand(program);
  registerAgentCommands(program);
  registerAccountsCommands(program);
  registerCatalogCommands(program);
  registerDesiredCommands(program);
  registerRolloutCommands(program);
  registerLogsCommands(program);
  registerFaultsCommands(program);
  registerFleetCommands(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof CliError) {
      process.stderr.write(`flotilla: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`flotilla: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

// Run only as the entry point (import.meta.main is not in every supported Node).
const entry = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) await main(process.argv);
