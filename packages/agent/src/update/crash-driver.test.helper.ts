// Child-process driver for the crash tests. FLOTILLA_CRASH_DRIVER (read only here) holds the job as JSON:
// `update` installs `first`, then updates to `second` and SIGKILLs itself right after journaling
// `crashAt`'s begin; `recover` runs recovery, prints the result and serves until SIGTERM.
import { join } from 'node:path';
import { agentLayout } from '../layout.ts';
import { createSupervisor } from '../supervisor/process-supervisor.ts';
import { recoverService } from './recover.ts';
import { runUpdate, type UpdateTarget } from './transaction.ts';

interface Job {
  mode: 'update' | 'recover';
  dir: string;
  service: string;
  url: string;
  token: string;
  publicKeyPem: string;
  first: UpdateTarget;
  second: UpdateTarget;
  crashAt: string;
}

const job = JSON.parse(process.env.FLOTILLA_CRASH_DRIVER ?? '{}') as Job;
const layout = agentLayout(job.dir);
const supervisor = createSupervisor({ name: job.service, logDir: join(job.dir, 'logs') });
const common = {
  layout,
  service: job.service,
  supervisor,
  trust: { publicKeyPem: job.publicKeyPem },
  server: { url: job.url, token: job.token },
  gateIntervalMs: 50,
};

if (job.mode === 'update') {
  const first = await runUpdate({ ...common, from: null, to: job.first });
  if (first.outcome !== 'committed') throw new Error(`first install failed: ${first.reason}`);
  const from = { version: job.first.version, dir: layout.service(job.service).versionDir(job.first.version) };
  const result = await runUpdate({
    ...common,
    from,
    to: job.second,
    hooks: {
      afterJournal(step, phase) {
        if (step === job.crashAt && phase === 'begin') process.kill(process.pid, 'SIGKILL');
      },
    },
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await supervisor.stop(2000);
} else {
  const result = await recoverService({ layout, service: job.service, supervisor, gateIntervalMs: 50 });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.on('SIGTERM', () => {
    void supervisor.stop(2000).then(() => process.exit(0));
  });
  setInterval(() => {}, 1000);
}
