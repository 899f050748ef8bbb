import { networkInterfaces } from 'node:os';
import { type Command, Option } from 'commander';
import { CliError } from '../api-client.ts';
import { examples } from '../help.ts';
import { registerMeshFleetCommands } from './mesh-fleet.ts';

// `flotilla mesh`: one standalone mesh node with canary-bot's flags and MESH_* variables. The mesh code
// is imported only when the node starts; `mesh status` and `mesh pairs` are subcommands (mesh-fleet.ts).

export interface MeshFlags {
  name?: string;
  target: string[];
  joinAddress?: string;
  listenAddress?: string;
  listenPort: string;
  apiPort: string;
  serverCertPath?: string;
  serverKeyPath?: string;
  serverCert?: string;
  serverKey?: string;
  caCertPath: string[];
  caCert?: string;
  token: string[];
  cleanupNodes?: boolean;
  cleanupSamples?: boolean;
  debug?: boolean;
}

/** Repeatable and comma lists alike (`--target a:1 --target b:2`, `--target a:1,b:2`, MESH_TARGET=a:1,b:2). */
function collect(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  ];
}

export function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port < 1 || port > 65_535)
    throw new CliError(`${flag}: "${text}" is not a port (1-65535)`, 2);
  return port;
}

/** host:port, [v6]:port; the host is what peers dial, so it must be non-empty. */
export function checkAddress(text: string, flag: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(text);
  if (!m?.[2] || Number(m[2]) < 1 || Number(m[2]) > 65_535)
    throw new CliError(`${flag}: "${text}" is not host:port`, 2);
  return text;
}

/** The host part of an address: IPv6 in brackets. */
export const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** canary-bot's default listen address: the first address that is not loopback (IPv4 first, then IPv6). */
export function firstExternalAddress(): string | undefined {
  const all = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal);
  return (all.find((a) => a.family === 'IPv4') ?? all.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80')))
    ?.address;
}

/** A boolean set by a MESH_* variable counts as set unless the variable says false, 0, no or off. */
function envBoolean(cmd: Command, key: string, env: string): boolean {
  const value = cmd.getOptionValue(key) === true;
  if (!value || cmd.getOptionValueSource(key) !== 'env') return value;
  return !/^(false|0|no|off|)$/i.test(process.env[env]?.trim() ?? '');
}

export function registerMeshCommand(program: Command): Command {
  const mesh = program
    .command('mesh')
    .description(
      'run a standalone mesh node (canary-bot compatible): join peers, measure round trips, serve the results',
    )
    .enablePositionalOptions()
    .addOption(new Option('-n, --name <name>', 'this node’s name, unique in the mesh').env('MESH_NAME'))
    .addOption(
      new Option('-t, --target <host:port>', 'a node to join through (repeatable, or a comma list)')
        .env('MESH_TARGET')
        .argParser(collect)
        .default([], 'none'),
    )
    .addOption(
      new Option(
        '--join-address <host:port>',
        'the address other nodes dial to reach this one (default: listen address and port)',
      ).env('MESH_JOIN_ADDRESS'),
    )
    .addOption(
      new Option(
        '--listen-address <address>',
        'address the mesh and API ports bind (default: the first non-loopback address)',
      ).env('MESH_LISTEN_ADDRESS'),
    )
    .addOption(new Option('--listen-port <port>', 'the mesh port').env('MESH_LISTEN_PORT').default('8081'))
    .addOption(
      new Option('-p, --api-port <port>', 'the API port (samples, nodes, metrics)')
        .env('MESH_API_PORT')
        .default('8080'),
    )
    .addOption(new Option('--server-cert-path <file>', 'PEM certificate of this node').env('MESH_SERVER_CERT_PATH'))
    .addOption(new Option('--server-key-path <file>', 'PEM key of that certificate').env('MESH_SERVER_KEY_PATH'))
    .addOption(new Option('--server-cert <base64>', 'the certificate as base64 of its PEM').env('MESH_SERVER_CERT'))
    .addOption(new Option('--server-key <base64>', 'the key as base64 of its PEM').env('MESH_SERVER_KEY'))
    .addOption(
      new Option(
        '--ca-cert-path <file>',
        'PEM CA that peers’ certificates chain to (repeatable); with a certificate: mutual TLS',
      )
        .env('MESH_CA_CERT_PATH')
        .argParser(collect)
        .default([], 'none'),
    )
    .addOption(new Option('--ca-cert <base64>', 'a CA as base64 of its PEM').env('MESH_CA_CERT'))
    .addOption(
      new Option('--token <token>', 'token for the API and the mesh port (repeatable; nodes share them)')
        .env('MESH_TOKEN')
        .argParser(collect)
        .default([], 'one generated, printed once, for the API only'),
    )
    .addOption(
      new Option('--cleanup-nodes', 'forget dead and left nodes and their samples a minute after they go').env(
        'MESH_CLEANUP_NODES',
      ),
    )
    .addOption(new Option('--cleanup-samples', 'delete samples older than 24 hours').env('MESH_CLEANUP_SAMPLES'))
    .addOption(new Option('--debug', 'log debug messages').env('MESH_DEBUG'))
    .addHelpText(
      'after',
      `${examples([
        'flotilla mesh --name eagle --target localhost:8082 --join-address localhost:8080 \\',
        '  --listen-address localhost --listen-port 8080 --api-port 8081',
        'flotilla mesh --name duck --target localhost:8080 --join-address localhost:8082 \\',
        '  --listen-address localhost --listen-port 8082 --api-port 8083',
        'curl -H "Authorization: Bearer $TOKEN" http://localhost:8081/api/v1/samples',
      ])}
Every option can also be set as MESH_<OPTION> (MESH_NAME, MESH_TARGET=a:8081,b:8081, MESH_LISTEN_PORT…).
Details: docs/mesh.md
`,
    )
    .action(async (flags: MeshFlags, cmd: Command) => runMeshNode(flags, cmd));
  registerMeshFleetCommands(mesh);
  return mesh;
}

async function runMeshNode(flags: MeshFlags, cmd: Command): Promise<void> {
  if (!flags.name) throw new CliError('--name: missing (or MESH_NAME): every node needs a name unique in the mesh', 2);
  const listenPort = parsePort(flags.listenPort, '--listen-port');
  const apiPort = parsePort(flags.apiPort, '--api-port');
  const listenAddress = flags.listenAddress ?? firstExternalAddress() ?? '127.0.0.1';
  const wildcard = listenAddress === '0.0.0.0' || listenAddress === '::';
  const joinAddress = checkAddress(
    flags.joinAddress ?? hostPort(wildcard ? (firstExternalAddress() ?? '127.0.0.1') : listenAddress, listenPort),
    '--join-address',
  );
  const targets = flags.target.map((t) => checkAddress(t, '--target'));
  const debug = envBoolean(cmd, 'debug', 'MESH_DEBUG');
  const rank = { debug: 0, info: 1, warn: 2, error: 3 } as const;
  const floor = debug ? 0 : 1;
  const log = (level: keyof typeof rank, message: string) => {
    if (rank[level] >= floor)
      process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} mesh ${message}\n`);
  };
  const mesh = await import('@flotilla/agent/mesh');
  let apiTokens = flags.token;
  if (apiTokens.length === 0) {
    // Printed once on stdout for whoever started the node; never written to the log.
    apiTokens = [mesh.generateToken()];
    process.stdout.write(`api token: ${apiTokens[0]}\n`);
  }
  let node: Awaited<ReturnType<typeof mesh.startMeshNode>>;
  try {
    node = await mesh.startMeshNode({
      name: flags.name,
      targets,
      joinAddress,
      listenAddress,
      listenPort,
      apiPort,
      tls: {
        serverCertPath: flags.serverCertPath,
        serverKeyPath: flags.serverKeyPath,
        serverCert: flags.serverCert,
        serverKey: flags.serverKey,
        caCertPaths: flags.caCertPath,
        caCert: flags.caCert,
      },
      apiTokens,
      meshTokens: flags.token,
      cleanupNodes: envBoolean(cmd, 'cleanupNodes', 'MESH_CLEANUP_NODES'),
      cleanupSamples: envBoolean(cmd, 'cleanupSamples', 'MESH_CLEANUP_SAMPLES'),
      log,
    });
  } catch (error) {
    if (error instanceof mesh.MeshConfigError) throw new CliError(error.message, 2);
    throw error;
  }
  const outcome = await new Promise<'signal' | Error>((resolve) => {
    node.done.catch((error: Error) => resolve(error));
    const onSignal = (signal: string) => {
      log('info', `${signal}: leaving the mesh`);
      resolve('signal');
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
  if (outcome instanceof mesh.MeshJoinRefused) {
    throw new CliError(`cannot join the mesh as "${flags.name}": ${outcome.message}`, 1);
  }
  if (outcome instanceof Error) throw outcome;
  await node.leave();
  process.exit(0);
}
