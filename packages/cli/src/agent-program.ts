// `flotilla agent` runs on every host, so it loads only the agent's commands: none of the server,
// the database drivers or the other commands (a test records its module graph to keep it so).
import { registerAgentCommands } from './commands/agent.ts';
import { baseProgram, runProgram } from './program-base.ts';

export function buildAgentProgram() {
  const program = baseProgram();
  registerAgentCommands(program);
  return program;
}

export function run(argv: string[]): Promise<void> {
  return runProgram(buildAgentProgram(), argv);
}
