// A server on a loopback port with the demo app's config, in a fresh temp dir: for the scripts that
// drive the dashboard (screenshots, benchmark). `close()` stops it and removes the dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { demoServerOptions } from '../packages/dashboard/test/demo-data.test.helper.ts';
import { resolveServerConfig } from '../packages/server/src/config/config.ts';
import { startServer } from '../packages/server/src/start.ts';

export async function startDemoServer(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `flotilla-${name}-`));
  const adminToken = `flt_${name.replace(/\W/g, '_')}_${Date.now()}_0123456789`;
  const config = resolveServerConfig(
    { host: '127.0.0.1', port: '0', dataDir: dir, ...demoServerOptions(dir) },
    { FLOTILLA_ADMIN_TOKEN: adminToken },
    dir,
  );
  try {
    const server = await startServer(config, { logger: pino({ level: 'silent' }) });
    const close = async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { url: server.url, adminToken, close };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
