import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { DriftStore, prepareReport, type SubjectReport } from './store.ts';
import { DriftReportWriter } from './writer.ts';

const t0 = Date.parse('2026-03-01T12:00:00Z');
const minute = 60_000;

const subject = (name: string, runningVersion = '1.0.0', error?: string): SubjectReport => ({
  subject: name,
  versions: [{ runningVersion, resourceCount: 1, resourceKind: 'Pods', image: `ghcr.io/o/${name}` }],
  upstream: { provider: 'github', strategy: 'releases', repo: `o/${name}` },
  ...(error ? { error } : {}),
});

describeEachStore(allStoreKinds)('drift batch ingestion on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const store = () => new DriftStore(handle.current.db);
  const rows = async (place?: string) => (await store().list({ place, limit: 100 })).items;
  // What the resolver (another module) writes once it compared a row.
  const resolve = (place: string, name: string, behind: string, at = t0) =>
    handle.current.db
      .updateTable('drift_subjects')
      .set({
        behind,
        latest: '2.0.0',
        majors_behind: behind === 'major' ? 1 : 0,
        minors_behind: behind === 'minor' ? 1 : 0,
        patches_behind: behind === 'patch' ? 1 : 0,
        resolution: '[]',
        resolved_at: at,
      })
      .where('place', '=', place)
      .where('subject', '=', name)
      .execute();

  it('stores every subject of a report with its error and image, and repeats idempotently', async () => {
    const answer = await store().ingest(
      'c1',
      'prod',
      { team: 'a' },
      [subject('a'), subject('b', '2.0.0', 'bad regex')],
      false,
      t0,
    );
    expect(answer).toEqual({ stored: 2, removed: 0 });
    const [a, b] = await rows('c1');
    expect(a).toMatchObject({ subject: 'a', error: null, tags: { team: 'a' }, reportedAt: t0, changedAt: t0 });
    expect(a?.versions[0]?.image).toBe('ghcr.io/o/a');
    expect(b).toMatchObject({ subject: 'b', error: 'bad regex' });
    await store().ingest(
      'c1',
      'prod',
      { team: 'a' },
      [subject('a'), subject('b', '2.0.0', 'bad regex')],
      false,
      t0 + minute,
    );
    expect((await rows('c1')).map((r) => [r.subject, r.reportedAt, r.changedAt])).toEqual([
      ['a', t0 + minute, t0],
      ['b', t0 + minute, t0],
    ]);
  });

  it('keeps resolved_at for an unchanged row and clears it (keeping the comparison) when content changes', async () => {
    await store().ingest('c1', 'prod', {}, [subject('a'), subject('b'), subject('c')], false, t0);
    for (const name of ['a', 'b', 'c']) await resolve('c1', name, 'major', t0 + 1);
    // b changes version, c only its error: both are content changes.
    await store().ingest(
      'c1',
      'prod',
      {},
      [subject('a'), subject('b', '1.1.0'), subject('c', '1.0.0', 'timeout')],
      false,
      t0 + minute,
    );
    const byName = Object.fromEntries((await rows('c1')).map((r) => [r.subject, r]));
    expect(byName.a).toMatchObject({ resolvedAt: t0 + 1, behind: 'major', changedAt: t0 });
    expect(byName.b).toMatchObject({ resolvedAt: null, behind: 'major', latest: '2.0.0', changedAt: t0 + minute });
    expect(byName.c).toMatchObject({ resolvedAt: null, error: 'timeout', changedAt: t0 + minute });
  });

  it('removes the place’s other subjects on a complete report, and only that place’s', async () => {
    await store().ingest('c1', 'prod', {}, [subject('a'), subject('b'), subject('c')], false, t0);
    await store().ingest('c2', 'prod', {}, [subject('a'), subject('b')], false, t0);
    await store().ingest('c1', 'staging', {}, [subject('b')], false, t0);
    expect(await store().ingest('c1', 'prod', {}, [subject('b')], true, t0 + minute)).toEqual({
      stored: 1,
      removed: 2,
    });
    const left = (await rows()).map((r) => `${r.environment}/${r.place}/${r.subject}`);
    expect(left).toEqual(['prod/c1/b', 'prod/c2/a', 'prod/c2/b', 'staging/c1/b']);
    // Complete and empty: the place runs no tracked subject any more.
    expect(await store().ingest('c2', 'prod', {}, [], true, t0 + minute)).toEqual({ stored: 0, removed: 2 });
    expect(await rows('c2')).toEqual([]);
  });

  it('takes the last of a subject repeated in one report', async () => {
    await store().ingest('c1', 'prod', {}, [subject('a', '1.0.0'), subject('a', '1.2.0')], false, t0);
    expect((await rows('c1')).map((r) => r.versions[0]?.runningVersion)).toEqual(['1.2.0']);
  });

  it('refreshes reported_at and clears stale_since on a heartbeat, leaving content and resolution', async () => {
    await store().ingest('c1', 'prod', {}, [subject('a')], false, t0);
    await resolve('c1', 'a', 'patch', t0);
    await store().expire(t0 + 20 * minute, 10 * minute, 60 * minute);
    expect((await rows('c1'))[0]?.staleSince).toBe(t0 + 20 * minute);
    expect(await store().ingest('c1', 'prod', {}, undefined, false, t0 + 21 * minute)).toEqual({
      stored: 0,
      removed: 0,
    });
    expect((await rows('c1'))[0]).toMatchObject({
      staleSince: null,
      reportedAt: t0 + 21 * minute,
      changedAt: t0,
      resolvedAt: t0,
      behind: 'patch',
    });
    // Another heartbeat within the minute writes nothing.
    await store().ingest('c1', 'prod', {}, undefined, false, t0 + 21 * minute + 30_000);
    expect((await rows('c1'))[0]?.reportedAt).toBe(t0 + 21 * minute);
  });

  it('filters by tags (all must match, exactly), how far behind and staleness, paging correctly', async () => {
    const s = store();
    await s.ingest('c1', 'prod', { region: 'eu', tier: 'gold' }, [subject('a'), subject('b')], false, t0);
    await s.ingest('c2', 'prod', { region: 'eu' }, [subject('a')], false, t0);
    await s.ingest('c3', 'prod', { region: 'eu-west' }, [subject('a')], false, t0);
    // A key with a quote: its stored JSON contains `"region":"eu"` though it has no region tag.
    await s.ingest('c4', 'prod', { 'x"region': 'eu' }, [subject('a')], false, t0);
    await s.ingest('c5', 'prod', { REGION: 'EU' }, [subject('a')], false, t0);
    const places = async (tags: Array<[string, string]>) =>
      (await s.list({ tags, limit: 100 })).items.map((r) => `${r.place}/${r.subject}`);
    expect(await places([['region', 'eu']])).toEqual(['c1/a', 'c1/b', 'c2/a']);
    expect(
      await places([
        ['region', 'eu'],
        ['tier', 'gold'],
      ]),
    ).toEqual(['c1/a', 'c1/b']);
    expect(await places([['tier', 'silver']])).toEqual([]);
    // Pages of one still see every match once, the false positives skipped.
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await s.list({ tags: [['region', 'eu']], limit: 1, after });
      seen.push(...page.items.map((r) => `${r.place}/${r.subject}`));
      if (!page.next) break;
      after = page.next;
    }
    expect(seen).toEqual(['c1/a', 'c1/b', 'c2/a']);

    await resolve('c1', 'a', 'major');
    await resolve('c1', 'b', 'minor');
    await resolve('c2', 'a', 'patch');
    await resolve('c3', 'a', 'none');
    await resolve('c4', 'a', 'unknown');
    const behind = async (b: 'patch' | 'minor' | 'major' | 'current' | 'unknown') =>
      (await s.list({ behind: b, limit: 100 })).items.map((r) => `${r.place}/${r.subject}`);
    expect(await behind('patch')).toEqual(['c1/a', 'c1/b', 'c2/a']);
    expect(await behind('minor')).toEqual(['c1/a', 'c1/b']);
    expect(await behind('major')).toEqual(['c1/a']);
    expect(await behind('current')).toEqual(['c3/a']);
    expect(await behind('unknown')).toEqual(['c4/a']);

    await s.expire(t0 + 20 * minute, 10 * minute, 60 * minute);
    await s.ingest('c2', 'prod', { region: 'eu' }, undefined, false, t0 + 21 * minute);
    expect((await s.list({ stale: false, limit: 100 })).items.map((r) => r.place)).toEqual(['c2']);
    expect((await s.list({ stale: true, limit: 100 })).items).toHaveLength(5);
  });

  it('applies reports sharing one commit in order, also when a place reports twice', async () => {
    const writer = new DriftReportWriter(handle.current.db);
    const submit = (place: string, names: string[] | undefined, complete: boolean) =>
      writer.submit(
        prepareReport(
          place,
          'prod',
          {},
          names?.map((n) => subject(n)),
          complete,
          t0,
        ),
      );
    await store().ingest('c1', 'prod', {}, [subject('old')], false, t0);
    // Submitted in one tick: one batch, one commit.
    const answers = await Promise.all([
      submit('c1', ['a', 'b'], true),
      submit('c2', ['x'], false),
      submit('c1', ['a'], true),
      submit('c1', ['c'], false),
      submit('c2', undefined, false),
    ]);
    expect(answers).toEqual([
      { stored: 2, removed: 1 },
      { stored: 1, removed: 0 },
      { stored: 1, removed: 1 },
      { stored: 1, removed: 0 },
      { stored: 0, removed: 0 },
    ]);
    expect((await rows()).map((r) => `${r.place}/${r.subject}`)).toEqual(['c1/a', 'c1/c', 'c2/x']);
    await writer.close();
    await expect(submit('c1', ['a'], false)).rejects.toThrow(/shutting down/);
  });

  it('answers a report only once its commit is durable, starts the next batch meanwhile, and fails it with the sync', async () => {
    const syncs: Array<(err?: Error) => void> = [];
    const writer = new DriftReportWriter(handle.current.db, {
      commit: async (work) => ({
        result: await handle.current.db.transaction().execute(work),
        durable: new Promise<void>((resolve, reject) => syncs.push((err) => (err ? reject(err) : resolve()))),
      }),
    });
    const submit = (place: string) => writer.submit(prepareReport(place, 'prod', {}, [subject('a')], false, t0));
    let firstAnswered = false;
    const first = submit('c1').then((r) => {
      firstAnswered = true;
      return r;
    });
    while (syncs.length < 1) await new Promise((r) => setTimeout(r, 5));
    // Committed but not yet durable: stored, not answered; the next report gets a commit of its own.
    expect((await rows()).map((r) => r.place)).toEqual(['c1']);
    const second = submit('c2');
    while (syncs.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(firstAnswered).toBe(false);
    syncs[0]?.();
    expect(await first).toEqual({ stored: 1, removed: 0 });
    syncs[1]?.(new Error('EIO'));
    await expect(second).rejects.toThrow(/could not be stored/);
    await writer.close();
  });
});
