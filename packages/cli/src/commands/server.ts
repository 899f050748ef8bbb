import { ConfigError, resolveServerConfig, type ServerOptions, serverOptionTable, startServer } from '@flotilla/server';
import { type Command, Option } from 'commander';

export function registerServerCommand(program: Command): void {
  const cmd = program
    .command('server')
    .description('run the control plane (check-in service, API)')
    .addHelpText(
      'after',
      `\nEvery option can also be set with its env var:\n${envHelp()}\n  FLOTILLA_ADMIN_TOKEN  set the admin API token instead of generating one`,
    );
  for (const opt of serverOptionTable) cmd.addOption(new Option(opt.flag, opt.help).env(opt.env));
  cmd.action(async (flags: ServerOptions) => {
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      // Commander already folded the env vars into flags; pass env too for FLOTILLA_ADMIN_TOKEN.
      server = await startServer(resolveServerConfig(flags, process.env), {
        onAdminTokenCreated: (token) => {
          process.stdout.write(
            `\nCreated the first admin API token. It is shown only this once and stored only as a hash:\n\n  ${token}\n\nUse it as "Authorization: Bearer <token>" or FLOTILLA_TOKEN.\nThe dashboard is served at / on this port; to sign in there, create a user:\n  flotilla user add <name> --role admin --server <this server's URL> --token <the token above>\n\n`,
          );
        },
      });
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

function envHelp(): string {
  return serverOptionTable.map((o) => `  ${o.env.padEnd(34)} ${o.flag.split(' ')[0]}`).join('\n');
}
