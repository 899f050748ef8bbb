// A server on a loopback port with the demo app's config, in a fresh temp dir, with a local stand-in
// for GitHub and endoflife.date as its drift upstreams: for the scripts that drive the dashboard
// (screenshots, benchmark). `close()` stops both and removes the dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { demoServerOptions } from '../packages/dashboard/test/demo-data.test.helper.ts';
import { driftServerOptions, startDriftUpstreams } from '../packages/dashboard/test/drift-demo.test.helper.ts';
import { resolveServerConfig } from '../packages/server/src/config/config.ts';
import { startServer } from '../packages/server/src/start.ts';

export async function startDemoServer(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `flotilla-${name}-`));
  const adminToken = `flt_${name.replace(/\W/g, '_')}_${Date.now()}_0123456789`;
  const upstreams = await startDriftUpstreams();
  try {
    const config = resolveServerConfig(
      { host: '127.0.0.1', port: '0', dataDir: dir, ...demoServerOptions(dir), ...driftServerOptions(upstreams) },
      { FLOTILLA_ADMIN_TOKEN: adminToken },
      dir,
    );
    const server = await startServer(config, { logger: pino({ level: 'silent' }) });
    const close = async () => {
      await server.close();
      await upstreams.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    return { url: server.url, adminToken, close };
  } catch (err) {
    await upstreams.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
