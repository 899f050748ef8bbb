// How `flotilla agent` starts: this process becomes `/bin/sh launcher.sh`, which keeps the agent running.
import { fileURLToPath } from 'node:url';
import { agentLayout } from '../layout.ts';
import { serviceMarkerEnv } from '../update/commands.ts';
import { agentServiceName } from './self-update.ts';

/**
 * The launcher keeps `agentCommand` running, marked (through env(1), which execs it: no extra
 * process) as a process of the agent's own service, so that a newer agent or a recovery finds it.
 */
export function launcherCommand(dir: string, agentCommand: string[]): string[] {
  const launcher = fileURLToPath(new URL('../../launcher.sh', import.meta.url));
  const marker = `${serviceMarkerEnv}=${agentLayout(dir).service(agentServiceName).root}`;
  return ['/bin/sh', launcher, '/usr/bin/env', marker, ...agentCommand];
}
