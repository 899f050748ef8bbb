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

async function runWorker(config: ReturnType<typeof configOf>, logger: AgentLogger): Promise<void> {
  // Each mode loads only its own code: the launcher never loads the agent proper, nor the worker the launcher.
  const { startAgent } = await import('@flotilla/agent/worker');
  const running = await startAgent(config, {
    logger,
    selfUpdate: {
      runningVersion: process.env.FLOTILLA_AGENT_VERSION ?? 'builtin',
      ...(process.env.FLOTILLA_AGENT_STATUS_FILE ? { statusFile: process.env.FLOTILLA_AGENT_STATUS_FILE } : {}),
    },
    ...failpoint(process.env.FLOTILLA_AGENT_FAILPOINT, config.dir),
  });
  logger.info(`instance ${running.instanceId}, server ${config.server}, dir ${config.dir}`);
  // SIGUSR2 from the launcher: a new worker takes over, so the services keep running.
  process.once('SIGUSR2', () => {
    logger.info('SIGUSR2: handing the services over to the next agent');
    void running.detach().then(() => process.exit(0));
  });
  const stopped = untilSignal(logger, () => running.stop());
  try {
    await Promise.race([running.done, stopped]);
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
}

/** Resolves never; on SIGTERM/SIGINT runs `stop` and exits 0 (a second signal exits at once). */
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
  process.on('SIGINT', () => void onSignal('SIGINT'));
  return new Promise(() => {});
}

/** This very command (same Node, same Node options, same script), as the launcher's built-in worker. */
function workerCommand(): string[] {
  const script = process.argv[1]
    ? realpathSync(process.argv[1])
    : fileURLToPath(new URL('../main.js', import.meta.url));
  return [process.execPath, ...process.execArgv, script, 'agent'];
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
  for (const opt of agentOptionTable) cmd.addOption(new Option(opt.flag, opt.help).env(opt.env));
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
    // Run by the launcher (below) as the supervised service flotilla-agent: the agent proper.
    if (process.env.FLOTILLA_AGENT_WORKER === '1') return runWorker(config, logger);
    const { startLauncher } = await import('@flotilla/agent/launcher');
    const launcher = await startLauncher(config, {
      workerCommand: workerCommand(),
      logger,
      onWorkerLine: (text) => process.stderr.write(`${text}\n`),
      ...(process.env.FLOTILLA_AGENT_FAILPOINT
        ? { workerEnv: { FLOTILLA_AGENT_FAILPOINT: process.env.FLOTILLA_AGENT_FAILPOINT } }
        : {}),
    });
    logger.info(`launcher for instance ${launcher.instanceId}, server ${config.server}, dir ${config.dir}`);
    await untilSignal(logger, () => launcher.stop());
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
      const exec = workerCommand();
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
