import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentConfigError, type AgentOptions, agentOptionTable, resolveAgentConfig } from '@flotilla/agent/options';
import type { AgentLogger } from '@flotilla/agent/worker';
import { type Command, Option } from 'commander';
import { CliError } from '../api-client.ts';

/** Plain lines on stderr; `--log-level debug` shows retries and uploads too. */
function stderrLogger(level: string): AgentLogger {
  const rank = { debug: 0, info: 1, warn: 2, error: 3 }[level] ?? 1;
  const line = (lvl: string, r: number) => (message: string) => {
    if (r >= rank) process.stderr.write(`${new Date().toISOString()} ${lvl} agent ${message}\n`);
  };
  return { debug: line('DEBUG', 0), info: line('INFO', 1), warn: line('WARN', 2), error: line('ERROR', 3) };
}

/** Exit code for a refusal for good (revoked credential): launcher.sh does not start the agent again. */
const refusedExitCode = 78;

/** A trial version, run beside the agent during its self-update until its health gate has passed. */
async function runTrial(config: ReturnType<typeof configOf>, logger: AgentLogger): Promise<void> {
  const { startAgent } = await import('@flotilla/agent/worker');
  const running = await startAgent(config, {
    logger,
    selfUpdate: {
      runningVersion: process.env.FLOTILLA_AGENT_VERSION ?? 'builtin',
      ...(process.env.FLOTILLA_AGENT_STATUS_FILE ? { statusFile: process.env.FLOTILLA_AGENT_STATUS_FILE } : {}),
    },
  });
  logger.info(`trial agent for instance ${running.instanceId}, server ${config.server}, dir ${config.dir}`);
  // SIGUSR2: the trial has passed (or failed) its gate; the services keep running for the next agent.
  process.once('SIGUSR2', () => {
    logger.info('SIGUSR2: handing the services over to the next agent');
    void running.detach().then(() => process.exit(0));
  });
  const stopped = untilSignal(logger, () => running.stop());
  try {
    await Promise.race([running.done, stopped]);
  } catch (err) {
    throw new CliError((err as Error).message, refusedExitCode);
  }
}

/** The agent: one process, kept running by launcher.sh (see agent-process.ts). */
async function runAgent(config: ReturnType<typeof configOf>, logger: AgentLogger): Promise<void> {
  const { runAgentProcess } = await import('@flotilla/agent/process');
  const running = await runAgentProcess(config, {
    builtinCommand: agentCommand(),
    ownVersion: process.env.FLOTILLA_AGENT_VERSION ?? 'builtin',
    logger,
    hooks: failpoint(process.env.FLOTILLA_AGENT_FAILPOINT, config.dir),
    // env(1) finds a command named without a path, as spawning it as a service would.
    replaceWith: (command, args, env) => replaceProcess('/usr/bin/env', ['env', command, ...args], env),
    exit: (code) => process.exit(code),
  });
  logger.info(`instance ${running.instanceId}, server ${config.server}, dir ${config.dir}`);
  const stopped = untilSignal(logger, () => running.stop());
  try {
    await Promise.race([running.done, stopped]);
  } catch (err) {
    throw new CliError((err as Error).message, refusedExitCode);
  }
}

/** Replaces this process (same pid) with `file`: how the agent becomes its launcher, or a new version. */
function replaceProcess(file: string, argv: string[], env: Record<string, string>): never {
  if (!process.execve)
    throw new CliError('flotilla agent needs process.execve (Node 22.15 or newer, not on Windows)', 2);
  process.execve(file, argv, env);
  throw new Error('process.execve returned');
}

/**
 * Resolves never; on SIGTERM/SIGINT runs `stop` and exits 0 (a second signal exits at once). Under
 * launcher.sh only SIGTERM counts: the launcher turns the terminal's SIGINT, sent to both, into one.
 */
function untilSignal(logger: AgentLogger, stop: () => Promise<void>): Promise<void> {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info(`${signal}: stopping services and flushing logs`);
    await stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
  process.on('SIGINT', () => (process.env.FLOTILLA_AGENT_LAUNCHER ? undefined : void onSignal('SIGINT')));
  return new Promise(() => {});
}

/**
 * V8 options the agent runs with: no optimizing compiler and a 1 MB young generation cost it 14 MB
 * less (57 instead of 71 MB) for twice the CPU under heavy log load (docs/benchmarks.md). Lite mode
 * also turns off WebAssembly, which Node's TypeScript stripping needs: from the sources it is left out.
 * Node options given to `flotilla agent` come after, so e.g. `--no-lite-mode` wins.
 */
export function agentV8Options(script: string): string[] {
  return script.endsWith('.ts') ? ['--max-semi-space-size=1'] : ['--lite-mode', '--max-semi-space-size=1'];
}

/** This very command (same Node, same Node options, same script), as the built-in agent version. */
function agentCommand(): string[] {
  const script = process.argv[1]
    ? realpathSync(process.argv[1])
    : fileURLToPath(new URL('../main.js', import.meta.url));
  const ours = agentV8Options(script);
  const given = process.execArgv.filter((option) => !ours.includes(option));
  return [process.execPath, ...ours, ...given, script, 'agent'];
}

/**
 * `FLOTILLA_AGENT_FAILPOINT=<step>:<begin|done>` kills the agent with SIGKILL right after that journal
 * record of an update: how the crash-recovery tests stop it at an exact step. Unset in normal use.
 */
function failpoint(spec: string | undefined, dir: string) {
  if (!spec) return {};
  const [step, phase] = spec.split(':');
  // Fires once per agent directory, so the restarted worker can recover.
  const marker = join(dir, `failpoint-fired-${step}-${phase ?? 'begin'}`);
  return {
    updateHooks: {
      afterJournal(s: string, p: string) {
        if (s !== step || p !== (phase ?? 'begin') || existsSync(marker)) return;
        writeFileSync(marker, '');
        process.kill(process.pid, 'SIGKILL');
      },
    },
  };
}

function configOf(flags: AgentOptions) {
  try {
    return resolveAgentConfig(flags, process.env);
  } catch (err) {
    if (err instanceof AgentConfigError) throw new CliError(`invalid agent configuration: ${err.message}`, 2);
    throw err;
  }
}

function addAgentOptions(cmd: Command): Command {
  for (const opt of agentOptionTable) {
    const option = new Option(opt.flag, opt.help);
    // A switch's variable is read (strictly) by resolveAgentConfig: Commander would take "0" as on.
    cmd.addOption(opt.flag.includes('<') ? option.env(opt.env) : option);
  }
  return cmd;
}

export function registerAgentCommands(program: Command): void {
  const agent = addAgentOptions(
    program
      .command('agent')
      .description('run the host agent: installs, supervises and safely updates the services this host should run')
      .option('--log-level <level>', 'debug, info, warn or error', 'info'),
  );
  agent.action(async (flags: AgentOptions & { logLevel: string }) => {
    const config = configOf(flags);
    const logger = stderrLogger(flags.logLevel);
    if (process.env.FLOTILLA_AGENT_WORKER === '1') return runTrial(config, logger);
    if (process.env.FLOTILLA_AGENT_LAUNCHER) return runAgent(config, logger);
    // This process becomes the launcher: a shell, not a second Node process (see launcher.sh).
    const { launcherCommand } = await import('@flotilla/agent/launcher');
    const [shell = '/bin/sh', ...args] = launcherCommand(config.dir, [
      ...agentCommand(),
      ...process.argv.slice(process.argv.indexOf('agent', 2) + 1),
    ]);
    replaceProcess(shell, [shell, ...args], process.env as Record<string, string>);
  });

  addAgentOptions(
    agent
      .command('install-service')
      .description('write a systemd unit (and a private env file with the settings) and enable it')
      .option('--unit-dir <dir>', 'where the unit goes', '/etc/systemd/system')
      .option('--settings-file <file>', 'where the settings go, token included (mode 0600)', '/etc/flotilla/agent.env')
      .option('--unit-name <name>', 'the unit name', 'flotilla-agent')
      .option('--no-enable', 'only write the files; do not run systemctl'),
  ).action(
    async (flags: AgentOptions & { unitDir: string; settingsFile: string; unitName: string; enable: boolean }) => {
      const { installService } = await import('@flotilla/agent/systemd');
      const config = configOf({ ...agent.opts(), ...flags });
      const exec = agentCommand();
      const result = installService(config, {
        exec,
        unitDir: flags.unitDir,
        envFile: flags.settingsFile,
        unitName: flags.unitName,
        enable: flags.enable,
      });
      process.stdout.write(`wrote ${result.unitFile}\nwrote ${result.envFile} (mode 0600)\n`);
      if (!flags.enable)
        process.stdout.write(`enable it with: systemctl daemon-reload && systemctl enable --now ${flags.unitName}\n`);
    },
  );
}
