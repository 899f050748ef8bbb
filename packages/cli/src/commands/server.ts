import type { ServerOptions } from '@flotilla/server/cli-surface';
import { type Command, Option } from 'commander';
import { examples } from '../help.ts';
import { installServerHint, loadServer, loadServerIfInstalled } from '../server-package.ts';

// Only the light option table, for the options and help; absent on a host that runs only the agent.
const surface = await loadServerIfInstalled(() => import('@flotilla/server/cli-surface'));

export function registerServerCommand(program: Command): void {
  const cmd = program
    .command('server')
    .description('run the control plane (check-in service, API)')
    .addHelpText(
      'after',
      [
        '\nEvery option can also be set with the env var shown beside it, or in the --config file.',
        'FLOTILLA_ADMIN_TOKEN sets the admin API token instead of generating one at first start.',
        examples([
          'flotilla server',
          'flotilla server --port 9000 --database postgres://flotilla:secret@127.0.0.1:5432/flotilla',
          'flotilla server --application-name longhorn --upgrade-response-config ./response-config.json --trusted-proxies 10.0.0.0/8',
        ]),
      ].join('\n'),
    );
  if (surface) {
    for (const opt of surface.serverOptionTable) cmd.addOption(new Option(opt.flag, opt.help).env(opt.env));
    // A way of starting, not a setting: no env var and no config key (docs/self-update.md).
    cmd.option(
      '--until-replaced',
      'bootstrap: never ready, and the next server started on the same SQLite database stops this one and takes over',
    );
  } else {
    // Whatever options were given, the answer is what to install.
    cmd.description(`${cmd.description()}: not installed here`).allowUnknownOption().allowExcessArguments();
    cmd.addHelpText('before', `Not installed on this host: ${installServerHint}\n`);
  }
  cmd.action(async ({ untilReplaced, ...flags }: ServerOptions & { untilReplaced?: boolean }) => {
    // Loaded only when the server runs, so other commands stay light.
    const { ConfigError, firstStartBanner, resolveLogFormat, resolveServerConfig, startServer } = await loadServer(
      'flotilla server',
      () => import('@flotilla/server'),
    );
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      // Commander already folded the env vars into flags; pass env too for FLOTILLA_ADMIN_TOKEN.
      const config = resolveServerConfig(flags, process.env);
      // Queued builds run this same command (`flotilla build … --server-job`), so the server needs no CLI import.
      server = await startServer(config, {
        builder: { command: process.execPath, args: [...process.execArgv, process.argv[1] as string] },
        // Set when a `flotilla agent` runs this server as a service (docs/self-update.md).
        serviceDir: process.env.FLOTILLA_SERVICE_DIR,
        untilReplaced: untilReplaced === true,
      });
      const banner = firstStartBanner({
        url: server.url,
        host: config.host,
        setupCode: server.setupCode,
        adminToken: server.createdAdminToken,
        dataDir: config.dataDir,
        database: config.database,
      });
      // Beside the log lines on a terminal; apart from them when they are JSON, so log parsers read only JSON.
      const json = resolveLogFormat(config.logFormat, process.stdout.isTTY) === 'json';
      if (banner) (json ? process.stderr : process.stdout).write(banner);
    } catch (err) {
      // Files are read at start too (response configs, schemas, the geo database): same exit code.
      if (err instanceof ConfigError) {
        process.stderr.write(`flotilla server: invalid configuration:\n${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        process.stderr.write(`flotilla server: second ${signal}, exiting at once\n`);
        process.exit(1);
      }
      stopping = true;
      server.app.log.info({ signal }, 'shutting down: finishing requests and flushing stores');
      await server.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}
