// Runs the environment's host trackers on this host and reports what it runs (its trackers' subjects
// and the services Flotilla runs here) as one complete DriftReport, only when it changed, plus a
// heartbeat. The evaluation code (and its RE2 engine) is imported only when there are trackers.
import type { DriftReport, DriftSubjectReport, VersionTracker } from '@flotilla/protocol';
import type { TrustedKey } from '../update/verify.ts';
import type { DriftTransport } from './drift-client.ts';
import type { HostTrackerOptions, HostTrackerResult } from './host-trackers.ts';
import { verifyTrackerSet } from './tracker-set.ts';

export const defaultDriftIntervalMs = 60_000;
export const defaultDriftHeartbeatMs = 5 * 60_000;
/** Pokes (each desired poll) closer than this to the last pass wait for it. */
const minGapMs = 5_000;

export const commandsOffError =
  'Command trackers are off on this host: start flotilla agent with --drift-commands (FLOTILLA_AGENT_DRIFT_COMMANDS=1) to run them';

interface Logger {
  debug(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface HostDriftOptions {
  transport: DriftTransport;
  trust: TrustedKey;
  /** The agent id of the report: the instance id. */
  agentId: string;
  /** The environment of the last accepted desired list; a set signed for another is refused. */
  environment: () => string | null;
  tags?: Record<string, string>;
  /** Whether Command trackers may run (`--drift-commands`); off by default. */
  commands?: boolean;
  /** What Flotilla runs here now (service and installed version). */
  services: () => { service: string; version?: string | undefined }[];
  log: Logger;
  intervalMs?: number;
  heartbeatMs?: number;
  evaluation?: HostTrackerOptions;
  now?: () => number;
  /** False: no pass until `pass` or `poke` (tests drive it). */
  autoStart?: boolean;
}

export interface HostDrift {
  /** Runs a pass soon (coalesced): called after each desired poll, so a change is seen at once. */
  poke(): void;
  /** Runs one pass now and resolves when it is done (tests). */
  pass(): Promise<void>;
  stop(): Promise<void>;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Report tags: the host's labels that fit the report's bounds. */
export function reportTags(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (k.length <= 63 && v.length <= 256 && Object.keys(out).length < 64) out[k] = v;
  }
  return out;
}

export function startHostDrift(opts: HostDriftOptions): HostDrift {
  const intervalMs = opts.intervalMs ?? defaultDriftIntervalMs;
  const heartbeatMs = opts.heartbeatMs ?? defaultDriftHeartbeatMs;
  const now = opts.now ?? Date.now;
  const { log, transport } = opts;
  const stopping = new AbortController();
  let trackers: VersionTracker[] = [];
  let etag: string | null = null;
  let lastSent: string | null = null;
  let lastReportAt = 0;
  let lastRefusal: string | null = null;
  let lastPassAt = 0;
  let running: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;

  const fetchTrackers = async () => {
    const answer = await transport.trackers(etag, stopping.signal);
    if (!answer.changed) return;
    try {
      const statement = verifyTrackerSet(opts.trust, answer.set, { environment: opts.environment() });
      trackers = statement.trackers;
      etag = answer.etag;
      lastRefusal = null;
    } catch (err) {
      // The verified set in use stays; nothing from the refused answer runs.
      const why = (err as Error).message;
      if (why !== lastRefusal) log.error(`refused the host tracker set: ${why}; the trackers in use are unchanged`);
      lastRefusal = why;
    }
  };

  const evaluate = async (): Promise<HostTrackerResult[]> => {
    if (trackers.length === 0) return [];
    const { evaluateHostTrackers } = await import('./host-trackers.ts');
    const allowed = trackers.filter((t) => opts.commands || t.spec.resources.strategy !== 'Command');
    const results = new Map(
      (await evaluateHostTrackers(allowed, opts.evaluation)).map((r, i) => [allowed[i] as VersionTracker, r]),
    );
    return trackers.map((t) => results.get(t) ?? { subject: t.spec.name, versions: [], error: commandsOffError });
  };

  const subjectsOf = (results: HostTrackerResult[]): DriftSubjectReport[] => {
    const subjects: DriftSubjectReport[] = results.map((r, i) => ({
      subject: r.subject,
      versions: r.versions.map((v) => ({
        runningVersion: v.runningVersion,
        resourceCount: 1,
        resourceKind: v.resourceKind,
        extractedFrom: clip(v.extractedFrom, 1024),
      })),
      upstream: trackers[i]?.spec.remoteVersion ?? null,
      error: r.error ? clip(r.error, 2048) : null,
    }));
    // The services Flotilla runs here: every host shows up, trackers or not. A tracker of the same name wins.
    const taken = new Set(subjects.map((s) => s.subject));
    for (const s of opts.services()) {
      if (!s.version || taken.has(s.service)) continue;
      taken.add(s.service);
      subjects.push({
        subject: s.service,
        versions: [
          { runningVersion: s.version, resourceCount: 1, resourceKind: 'FlotillaService', extractedFrom: 'flotilla' },
        ],
        upstream: null,
        error: null,
      });
    }
    return subjects.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  };

  const pass = async () => {
    lastPassAt = now();
    try {
      await fetchTrackers();
    } catch (err) {
      if (stopping.signal.aborted) return;
      log.debug(`host trackers: ${(err as Error).message}; using the last verified set`);
    }
    let subjects: DriftSubjectReport[];
    try {
      subjects = subjectsOf(await evaluate());
    } catch (err) {
      log.warn(`host trackers could not run: ${(err as Error).message}`);
      return;
    }
    if (stopping.signal.aborted) return;
    const tags = reportTags(opts.tags ?? {});
    const content = JSON.stringify({ tags, subjects });
    const heartbeatDue = now() - lastReportAt >= heartbeatMs;
    if (content === lastSent && !heartbeatDue) return;
    const report: DriftReport =
      content === lastSent
        ? { agentId: opts.agentId, tags }
        : { agentId: opts.agentId, tags, subjects, complete: true };
    try {
      await transport.report(report, stopping.signal);
      lastSent = content;
      lastReportAt = now();
    } catch (err) {
      if (!stopping.signal.aborted) log.debug(`drift report failed; retrying next pass: ${(err as Error).message}`);
    }
  };

  const run = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    if (timer) clearTimeout(timer);
    timer = null;
    running = (async () => {
      do {
        again = false;
        await pass();
      } while (again && !stopping.signal.aborted);
    })().finally(() => {
      running = null;
      if (!stopping.signal.aborted) schedule(intervalMs);
    });
    return running;
  };

  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void run(), ms);
    timer.unref();
  };

  if (opts.autoStart !== false) schedule(0);
  return {
    poke() {
      if (stopping.signal.aborted || running) return;
      schedule(Math.max(0, lastPassAt + minGapMs - now()));
    },
    pass: run,
    async stop() {
      stopping.abort();
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
