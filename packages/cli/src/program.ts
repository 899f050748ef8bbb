import type { Command } from 'commander';
import { registerAccountsCommands } from './commands/accounts.ts';
import { registerAgentCommands } from './commands/agent.ts';
import { registerBuildCommand } from './commands/build.ts';
import { registerBuildsCommands } from './commands/builds.ts';
import { registerCatalogCommands } from './commands/catalog.ts';
import { registerClientVersionCommands } from './commands/client-version.ts';
import { registerConsumerCommands } from './commands/consumers.ts';
import { registerDesiredCommands } from './commands/desired.ts';
import { registerDriftCommands } from './commands/drift.ts';
import { registerDriftAgentCommand } from './commands/drift-agent.ts';
import { registerFaultsCommands } from './commands/faults.ts';
import { registerFederationCommands } from './commands/federation.ts';
import { registerFleetCommands } from './commands/fleet.ts';
import { registerLogsCommands } from './commands/logs.ts';
import { registerMeshCommand } from './commands/mesh.ts';
import { registerPrivateFileCommands } from './commands/private-files.ts';
import { registerRolloutCommands } from './commands/rollouts.ts';
import { registerServerCommand } from './commands/server.ts';
import { registerTrashCommands } from './commands/trash.ts';
import { examples } from './help.ts';
import { baseProgram, runProgram } from './program-base.ts';

/** The one `flotilla` command; each subcommand lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = baseProgram().addHelpText(
    'after',
    `${examples([
      'flotilla server                                   # start the control plane on port 8314',
      'flotilla login --server http://127.0.0.1:8314 --token "$TOKEN"',
      'flotilla version publish web 1.0.0 ./web --notes "first release"',
      'flotilla desired set production web=1.0.0',
      'flotilla <command> --help                         # options and examples of one command',
    ])}
Environment:
  FLOTILLA_SERVER   server URL for commands that call the API (instead of --server or the saved login)
  FLOTILLA_TOKEN    API token for those commands (instead of --token or the saved login)
  XDG_CONFIG_HOME   where \`flotilla login\` saves the login (default: ~/.config)
`,
  );
  registerServerCommand(program);
  registerAgentCommands(program);
  registerAccountsCommands(program);
  registerCatalogCommands(program);
  registerPrivateFileCommands(program);
  registerBuildCommand(program);
  registerBuildsCommands(program);
  registerClientVersionCommands(program);
  registerDesiredCommands(program);
  registerRolloutCommands(program);
  registerTrashCommands(program);
  registerLogsCommands(program);
  registerFaultsCommands(program);
  registerFleetCommands(program);
  registerDriftCommands(program);
  registerDriftAgentCommand(program);
  registerMeshCommand(program);
  registerConsumerCommands(program);
  registerFederationCommands(program);
  return program;
}

/** Runs the command line; failures become one line on stderr and a non-zero exit. */
export function run(argv: string[]): Promise<void> {
  return runProgram(buildProgram(), argv);
}
