// `flotilla agent install-service`: a systemd unit that runs the agent, with its secrets in a 0600 env file.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type AgentConfig, configEnv } from './config.ts';

export interface ServiceInstallOptions {
  /** The command that starts the agent, e.g. [process.execPath, '/usr/lib/.../main.js', 'agent']. */
  exec: string[];
  unitDir: string;
  envFile: string;
  unitName: string;
  /** Run `systemctl daemon-reload` and `enable --now`. */
  enable: boolean;
}

const quote = (arg: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, '\\$1')}"`);

export function unitText(opts: ServiceInstallOptions): string {
  return `[Unit]
Description=Flotilla agent: runs and safely updates this host's services
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
EnvironmentFile=${opts.envFile}
ExecStart=${opts.exec.map(quote).join(' ')}
Restart=always
RestartSec=5
# SIGTERM to the agent only: it stops its services gracefully, then exits.
KillMode=mixed
TimeoutStopSec=90

[Install]
WantedBy=multi-user.target
`;
}

/** The env file holds every setting, the token included, so it never shows in `ps` or the unit. */
export function envFileText(config: AgentConfig): string {
  const lines = Object.entries(configEnv(config)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `# Settings of the Flotilla agent; keep this file private.\n${lines.join('\n')}\n`;
}

export function installService(
  config: AgentConfig,
  opts: ServiceInstallOptions,
): { unitFile: string; envFile: string } {
  const unitFile = join(opts.unitDir, `${opts.unitName}.service`);
  mkdirSync(dirname(opts.envFile), { recursive: true });
  writeFileSync(opts.envFile, envFileText(config), { mode: 0o600 });
  chmodSync(opts.envFile, 0o600);
  mkdirSync(opts.unitDir, { recursive: true });
  writeFileSync(unitFile, unitText(opts), { mode: 0o644 });
  if (opts.enable) {
    for (const args of [['daemon-reload'], ['enable', '--now', `${opts.unitName}.service`]]) {
      const r = spawnSync('systemctl', args, { stdio: 'inherit' });
      if (r.error || r.status !== 0) {
        throw new Error(
          `systemctl ${args.join(' ')} failed${r.error ? `: ${r.error.message}` : ` (exit ${r.status})`}`,
        );
      }
    }
  }
  return { unitFile, envFile: opts.envFile };
}
