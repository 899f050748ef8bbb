import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { listInstances } from '../desired/instances-store.ts';
import { listFaults } from '../faults/store.ts';
import { receivedServices } from './received-store.ts';
import type { ConsumerReport } from './schemas.ts';

const maxInstances = 5000;
const faultsPerService = 20;
const faultWindowMs = 7 * 86_400_000;

/** What this consumer tells its provider: only about the services it received from it. */
export async function gatherReport(db: Kysely<Tables>, now = Date.now()): Promise<ConsumerReport> {
  const services = new Set(await receivedServices(db));
  const report: ConsumerReport = { instances: [], faults: [], tested: [] };
  if (services.size === 0) return report;
  const rows = await listInstances(db, { staleBefore: new Date(0).toISOString(), limit: maxInstances });
  for (const row of rows) {
    for (const s of row.services) {
      if (!services.has(s.service) || report.instances.length >= maxInstances) continue;
      report.instances.push({
        environment: row.environment,
        instanceId: row.instanceId,
        service: s.service,
        version: s.version,
        state: s.state ?? 'unknown',
        reportedAt: s.updatedAt,
      });
    }
  }
  const marks = await db
    .selectFrom('tested_marks')
    .select(['service', 'version'])
    .distinct()
    .where('service', 'in', [...services])
    .execute();
  report.tested = marks.slice(0, 10_000).map((m) => ({ service: m.service, version: m.version }));
  for (const service of services) {
    for (const f of await listFaults(db, { service, from: now - faultWindowMs, limit: faultsPerService })) {
      if (report.faults.length >= 500) break;
      report.faults.push({
        id: f.id,
        environment: f.environment,
        instanceId: f.instanceId,
        service: f.service,
        version: f.version,
        reason: f.reason.slice(0, 2000),
        at: new Date(f.time).toISOString(),
      });
    }
  }
  return report;
}
