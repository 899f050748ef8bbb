import type { Kysely } from 'kysely';
import type { ServiceRow, VersionRow } from '../catalog/store.ts';
import * as catalog from '../catalog/store.ts';
import type { Tables } from '../db/tables.ts';
import type { DesiredRevisionsTable, EnvironmentsTable, TestedMarksTable } from '../desired/tables.ts';
import { Conflict, NotFound } from '../errors.ts';
import type { TrashRow } from './store.ts';

/** What an environment's trash entry holds: the row with its whole desired-list history and tested marks. */
export interface EnvironmentSnapshot {
  environment: EnvironmentsTable;
  revisions: DesiredRevisionsTable[];
  testedMarks: TestedMarksTable[];
}

interface ProfileSnapshot {
  name: string;
  services: string[];
  updatedAt: string;
}

/** Reads an environment's rows before they are deleted (pass the deleting transaction). */
export async function snapshotEnvironment(tx: Kysely<Tables>, name: string): Promise<EnvironmentSnapshot> {
  const environment = await tx
    .selectFrom('environments')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  const revisions = await tx
    .selectFrom('desired_revisions')
    .selectAll()
    .where('env', '=', name)
    .orderBy('revision')
    .execute();
  const testedMarks = await tx.selectFrom('tested_marks').selectAll().where('env', '=', name).execute();
  return {
    environment,
    revisions: revisions.map((r) => ({ ...r, revision: Number(r.revision) })),
    testedMarks: testedMarks.map((m) => ({ ...m, revision: Number(m.revision) })),
  };
}

// Rows per insert, well under SQLite's bound-parameter limit.
const batch = 100;

const taken = (what: string, entry: TrashRow) =>
  new Conflict(`${what} exists now; delete it first, or purge the deleted one (flotilla trash purge ${entry.id})`);

/** Puts a trash entry's rows back; refuses when the name is taken again or what it needs is gone. */
export async function restoreRows(tx: Kysely<Tables>, entry: TrashRow): Promise<void> {
  const data: unknown = JSON.parse(entry.data);
  switch (entry.kind) {
    case 'service': {
      if (await catalog.getService(tx, entry.name)) throw taken(`a service named "${entry.name}"`, entry);
      await catalog.insertService(tx, data as ServiceRow);
      return;
    }
    case 'profile': {
      const profile = data as ProfileSnapshot;
      if ((await catalog.listProfiles(tx, entry.name)).length > 0)
        throw taken(`a profile named "${entry.name}"`, entry);
      const known = await catalog.existingServices(tx, profile.services);
      const missing = profile.services.filter((s) => !known.has(s));
      if (missing.length > 0) {
        throw new Conflict(
          `profile "${entry.name}" names deleted service(s) ${missing.join(', ')}; restore them first`,
        );
      }
      await catalog.putProfile(tx, entry.name, profile.services, profile.updatedAt);
      return;
    }
    case 'environment': {
      const snap = data as EnvironmentSnapshot;
      const exists = await tx
        .selectFrom('environments')
        .select('name')
        .where('name', '=', entry.name)
        .executeTakeFirst();
      if (exists) throw taken(`an environment named "${entry.name}"`, entry);
      const gate = snap.environment.requires_tested_in;
      if (gate !== null && gate !== entry.name) {
        const found = await tx.selectFrom('environments').select('name').where('name', '=', gate).executeTakeFirst();
        if (!found)
          throw new Conflict(
            `environment "${entry.name}" requires versions tested in "${gate}", which is gone; restore it first`,
          );
      }
      await tx.insertInto('environments').values(snap.environment).execute();
      // Whatever an earlier environment of this name left behind goes; the snapshot is the whole history.
      await tx.deleteFrom('desired_revisions').where('env', '=', entry.name).execute();
      await tx.deleteFrom('tested_marks').where('env', '=', entry.name).execute();
      for (let i = 0; i < snap.revisions.length; i += batch) {
        await tx
          .insertInto('desired_revisions')
          .values(snap.revisions.slice(i, i + batch))
          .execute();
      }
      for (let i = 0; i < snap.testedMarks.length; i += batch) {
        await tx
          .insertInto('tested_marks')
          .values(snap.testedMarks.slice(i, i + batch))
          .execute();
      }
      return;
    }
    case 'version': {
      const row = data as VersionRow;
      if (!(await catalog.getService(tx, row.service))) {
        throw new NotFound(
          `service "${row.service}" does not exist; restore it first (flotilla service restore ${row.service})`,
        );
      }
      if (await catalog.getVersion(tx, row.service, row.version)) {
        throw taken(`version ${row.version} of service "${row.service}"`, entry);
      }
      // The row goes back verbatim: manifest, signature and key id, so agents verify it as before.
      await catalog.insertVersion(tx, row);
      return;
    }
    default:
      throw new Conflict(`unknown kind "${entry.kind}" in the trash`);
  }
}
