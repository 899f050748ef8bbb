import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { CliError } from '../api-client.ts';
import { examples } from '../help.ts';

// `flotilla drift-agent`: the Kubernetes drift agent. Its code is imported only when the command runs.

export interface DriftAgentFlags {
  server?: string;
  token?: string;
  tokenFile?: string;
  kubeconfig?: string;
  context?: string;
  identifier?: string;
  tags: string[];
  heartbeat: string;
  logLevel: string;
}

const identifierPattern = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$/;

/** `env:prod,team:web` and repeated `--tags` into one map; Opvic's `key:value` form (`=` also accepted). */
export function parseTags(values: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of values.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    if (item === '') continue;
    const at = item.search(/[:=]/);
    const key = at === -1 ? '' : item.slice(0, at).trim();
    const value = at === -1 ? '' : item.slice(at + 1).trim();
    if (key === '' || key.length > 63 || value.length > 256) {
      throw new CliError(`--tags: "${item}" is not key:value (key 1-63 characters, value at most 256)`, 2);
    }
    tags[key] = value;
  }
  if (Object.keys(tags).length > 64) throw new CliError('--tags: at most 64 tags', 2);
  return tags;
}

/** `5` (minutes), `30s`, `5m`, `1h`: between 1 s and 24 h. */
export function parseHeartbeat(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!m) throw new CliError(`--heartbeat: "${text}" is not a duration (minutes, or e.g. 30s, 5m, 1h)`, 2);
  const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'm') as 's' | 'm' | 'h'];
  if (!(ms >= 1000 && ms <= 86_400_000)) throw new CliError('--heartbeat: between 1s and 24h', 2);
  return ms;
}

function readToken(flags: DriftAgentFlags): string {
  let token = flags.token;
  if (flags.tokenFile) {
    try {
      token = readFileSync(flags.tokenFile, 'utf8').trim();
    } catch (error) {
      throw new CliError(`--token-file: cannot read ${flags.tokenFile}: ${(error as NodeJS.ErrnoException).code}`, 2);
    }
  }
  if (!token) {
    throw new CliError('token: missing (--token-file, FLOTILLA_AGENT_TOKEN_FILE, or FLOTILLA_AGENT_TOKEN)', 2);
  }
  return token;
}

function serverUrl(server: string | undefined): string {
  if (!server) throw new CliError('server: missing (--server or FLOTILLA_AGENT_SERVER)', 2);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CliError(`server: "${server}" is not a URL`, 2);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`server: "${server}" must be an http:// or https:// URL`, 2);
  }
  return url.toString().replace(/\/+$/, '');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerDriftAgentCommand(program: Command): void {
  program
    .command('drift-agent')
    .description('run the Kubernetes drift agent: read VersionTrackers, report running versions to the server')
    .addOption(new Option('--server <url>', 'the Flotilla server').env('FLOTILLA_AGENT_SERVER'))
    .addOption(
      new Option('--token-file <file>', 'file holding an agent token (a mounted Secret)').env(
        'FLOTILLA_AGENT_TOKEN_FILE',
      ),
    )
    .addOption(new Option('--token <token>', 'an agent token (prefer --token-file)').env('FLOTILLA_AGENT_TOKEN'))
    .addOption(
      new Option('--kubeconfig <file>', 'a kubeconfig file (default: the in-cluster service account)').env(
        'FLOTILLA_KUBECONFIG',
      ),
    )
    .addOption(
      new Option('--context <name>', "the kubeconfig's context to use (default: its current-context)").env(
        'FLOTILLA_KUBE_CONTEXT',
      ),
    )
    .addOption(
      new Option('--identifier <id>', "this cluster's id in reports (letters, digits, . _ -)").env(
        'FLOTILLA_DRIFT_IDENTIFIER',
      ),
    )
    .option('--tags <key:value>', 'tags of this cluster (repeatable, or a comma list)', collect, [])
    .option('--heartbeat <duration>', 'report period when nothing changed: minutes, or 30s, 5m, 1h', '5')
    .option('--log-level <level>', 'info, warn or error', 'info')
    .addHelpText(
      'after',
      examples([
        'flotilla drift-agent --server https://flotilla.example --token-file /var/run/flotilla/token \\',
        '  --identifier prod-eu-1 --tags env:prod --tags region:eu-west-1',
        'flotilla drift-agent --kubeconfig ~/.kube/config --server http://127.0.0.1:8314 --identifier dev  # outside a cluster',
      ]),
    )
    .action(async (flags: DriftAgentFlags) => {
      const server = serverUrl(flags.server);
      const token = readToken(flags);
      if (!flags.identifier || !identifierPattern.test(flags.identifier)) {
        throw new CliError(
          `--identifier: ${flags.identifier ? `"${flags.identifier}" must be letters, digits, . _ - (at most 253)` : 'missing (or FLOTILLA_DRIFT_IDENTIFIER)'}`,
          2,
        );
      }
      const tags = parseTags(flags.tags);
      const heartbeatMs = parseHeartbeat(flags.heartbeat);
      const rank = { debug: 0, info: 1, warn: 2, error: 3 }[flags.logLevel] ?? 1;
      const levels = { info: 1, warn: 2, error: 3 } as const;
      const log = (level: keyof typeof levels, message: string) => {
        if (levels[level] >= rank) {
          process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} drift-agent ${message}\n`);
        }
      };
      if (flags.context && !flags.kubeconfig) throw new CliError('--context needs --kubeconfig', 2);
      const kubernetes = await import('@flotilla/agent/kubernetes');
      let running: Awaited<ReturnType<typeof kubernetes.runDriftAgent>>;
      try {
        running = await kubernetes.runDriftAgent({
          server,
          token,
          identifier: flags.identifier,
          tags,
          heartbeatMs,
          ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
          ...(flags.context ? { context: flags.context } : {}),
          log,
        });
      } catch (error) {
        if (error instanceof kubernetes.DriftAgentConfigError) throw new CliError(error.message, 2);
        throw error;
      }
      log('info', `cluster ${flags.identifier}, server ${server}`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (signal: string) => {
          if (stopping) process.exit(1);
          stopping = true;
          log('info', `${signal}: stopping watches, sending the last report`);
          void running.stop().then(resolve, resolve);
        };
        process.on('SIGTERM', () => onSignal('SIGTERM'));
        process.on('SIGINT', () => onSignal('SIGINT'));
      });
      process.exit(0);
    });
}
