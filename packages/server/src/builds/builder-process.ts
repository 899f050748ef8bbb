// What the builder process is given and how its end is read: its arguments, its environment, its
// reason for failing, and the signal to its whole process group.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { BuildJob, BuildSource } from '@flotilla/protocol';

/** `name=url#ref:subdir`, as the builder's `--source` reads it back. */
export function sourceArgument(s: BuildSource): string {
  return `${s.name}=${s.url}#${s.ref}${s.subdir !== undefined ? `:${s.subdir}` : ''}`;
}

/** The builder command's arguments: `build …` for a version, `client-version build …` for a client one. */
export function builderArguments(job: BuildJob, jobDir: string): string[] {
  const macros = Object.entries(job.macros).flatMap(([k, v]) => ['--macro', `${k}=${v}`]);
  const desired = job.setDesired !== null ? ['--set-desired', job.setDesired] : [];
  if (job.kind === 'client') {
    return [
      'client-version',
      'build',
      job.service,
      '--from',
      job.from ?? '',
      ...job.sources.flatMap((s) => ['--settings', sourceArgument(s)]),
      ...macros,
      ...desired,
      ...(job.consumer !== null ? ['--for-consumer', job.consumer] : []),
      '--server-job',
      jobDir,
    ];
  }
  return [
    'build',
    job.service,
    ...(job.version !== null ? [job.version] : []),
    ...job.sources.flatMap((s) => ['--source', sourceArgument(s)]),
    ...job.sources.flatMap((s) => (s.submodules ? ['--submodules', s.name] : [])),
    ...(job.tagSources ? ['--tag-sources'] : []),
    ...macros,
    ...desired,
    '--server-job',
    jobDir,
  ];
}

/** The server's own secrets (FLOTILLA_*) never reach the builder; it gets its credential instead. */
export function childEnv(url: string, token: string, jobDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FLOTILLA_')) env[k] = v;
  return {
    ...env,
    FLOTILLA_SERVER: url,
    FLOTILLA_TOKEN: token,
    XDG_CONFIG_HOME: join(jobDir, 'config'),
    XDG_CACHE_HOME: join(jobDir, 'cache'),
  };
}

/** The builder's own reason (`flotilla: …`, its last such line), else how it ended. */
export function failureOf(tail: string, code: number | null, signal: string | null): string {
  const lines = tail.split('\n').filter((l) => l.startsWith('flotilla: '));
  const last = lines.at(-1)?.slice('flotilla: '.length).trim();
  if (last) return last.slice(0, 2000);
  return `the builder exited with ${code !== null ? `code ${code}` : `signal ${signal}`}`;
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}
