// Mesh demo data, sent as agents send it: each node enrols with an agent token of its environment, asks for its
// mesh certificate, then reports 30 minutes of per-pair summaries. Two groups that never reach each other
// (eu-*, us-*: two partitions), one node its peers cannot reach (eu-4: flagged), a slow link and a lossy one.
import { generateKeyPairSync } from 'node:crypto';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { call } from './demo-data.test.helper.ts';

export const meshGroups = { eu: ['eu-1', 'eu-2', 'eu-3', 'eu-4'], us: ['us-1', 'us-2'] } as const;
export const meshMinutes = 30;
const minuteMs = 60_000;

/** The request phase's p50 of a pair in seconds; undefined: every probe fails; null: never measured. */
export function meshDemoP50(from: string, to: string): number | undefined | null {
  const group = (n: string) => n.slice(0, 2);
  if (group(from) !== group(to)) return null;
  if (to === 'eu-4') return undefined;
  if (from === 'eu-3' && to === 'eu-1') return 0.004;
  if (from === 'eu-1' && to === 'eu-2') return 0.0012;
  return from.startsWith('us') ? 0.0003 : 0.0006;
}

/** Failed probes of a minute (of 60): eu-2 → eu-3 loses 15 every third minute, 8.3 % overall. */
const failedOf = (from: string, to: string, m: number) => (from === 'eu-2' && to === 'eu-3' && m % 3 === 0 ? 15 : 0);

function summaries(from: string, peers: readonly string[], now: number) {
  const out: Record<string, unknown>[] = [];
  const minute0 = Math.floor(now / minuteMs) * minuteMs;
  for (const to of peers) {
    if (to === from) continue;
    const p50 = meshDemoP50(from, to);
    if (p50 === null) continue;
    for (let m = 0; m < meshMinutes; m += 1) {
      const minute = minute0 - m * minuteMs;
      for (const [phase, scale] of [
        ['request', 1],
        ['connect', 1.5],
      ] as const) {
        if (p50 === undefined) {
          out.push({ from, to, phase, minute, count: 60, failed: 60 });
          continue;
        }
        // A gentle wave, and one bad minute ten minutes ago on the slow link.
        const v = p50 * scale * (1 + 0.15 * Math.sin(m / 3));
        const spike = from === 'eu-3' && to === 'eu-1' && m === 10 ? 5 : 1;
        out.push({
          from,
          to,
          phase,
          minute,
          count: 60,
          failed: failedOf(from, to, m),
          min: v * 0.7,
          p50: v,
          p99: v * 2.5 * spike,
          max: v * 3 * spike,
          jitter: v * 0.1,
        });
      }
    }
  }
  return out;
}

const publicKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();

/** Enrols `instance` in `environment`'s mesh (an agent credential, then a mesh certificate); returns the credential. */
export async function joinMesh(base: string, agentToken: string, instance: string, port: number): Promise<string> {
  const credential = await agentCredentialFor(base, agentToken, instance);
  await call(base, credential, 'POST', '/api/v1/agent/mesh/certificate', {
    publicKey: publicKey(),
    address: `10.0.${port % 250}.1:${port}`,
  });
  return credential;
}

/**
 * Switches the mesh on in `environment` (which must exist), and has the demo nodes join and report.
 * Returns the agent token the nodes enrolled with.
 */
export async function seedMesh(base: string, adminToken: string, environment = 'production'): Promise<string> {
  await call(base, adminToken, 'PUT', `/api/v1/mesh/environments/${environment}`, { enabled: true });
  const { token } = await call(base, adminToken, 'POST', '/api/v1/tokens', {
    kind: 'agent',
    name: `${environment} mesh agents`,
    environment,
  });
  const nodes = [...meshGroups.eu, ...meshGroups.us];
  const credentials = new Map<string, string>();
  for (const [i, node] of nodes.entries()) credentials.set(node, await joinMesh(base, token, node, 7946 + i));
  const now = Date.now();
  for (const node of nodes) {
    const lag = node === 'us-2' ? { p50: 0.002, p99: 0.045, max: 0.12 } : { p50: 0.0004, p99: 0.003, max: 0.01 };
    await call(base, credentials.get(node) as string, 'POST', '/api/v1/agent/mesh/summaries', {
      summaries: summaries(node, nodes, now),
      eventLoopLag: lag,
    });
  }
  return token;
}
