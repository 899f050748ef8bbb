// The provider's fleet and faults views of one consumer server: what the consumer last reported about
// the provider's services (`GET /api/v1/consumers/:name/fleet`), in the shape of the local views.
import { type ApiFlags, clientFor } from '../command-helpers.ts';
import { formatTable, formatTime, printResult } from '../output.ts';

export interface ConsumerFleet {
  consumer: string;
  receivedAt: string | null;
  instances: Array<{
    environment: string;
    instanceId: string;
    service: string;
    version: string | null;
    state: string;
    reportedAt: string | null;
  }>;
  faults: Array<{
    id: string;
    environment: string;
    instanceId: string;
    service: string;
    version: string | null;
    reason: string;
    at: string;
  }>;
}

export interface ConsumerFilter {
  environment?: string;
  service?: string;
  instance?: string;
  /** ISO time: only faults at or after it. */
  from?: string;
}

/** What a consumer reported, made safe for a terminal: control characters shown as `?`. */
const printable = (text: string | null) =>
  [...(text ?? '')].map((ch) => ((ch.codePointAt(0) as number) < 0x20 || ch === '\u007f' ? '?' : ch)).join('');

const matches = (f: ConsumerFilter, x: { environment: string; service: string; instanceId: string }) =>
  (!f.environment || x.environment === f.environment) &&
  (!f.service || x.service === f.service) &&
  (!f.instance || x.instanceId === f.instance);

async function report(name: string, flags: ApiFlags): Promise<ConsumerFleet> {
  return clientFor(flags).request<ConsumerFleet>('GET', `/api/v1/consumers/${encodeURIComponent(name)}/fleet`);
}

function reportedLine(fleet: ConsumerFleet): string {
  return `consumer ${fleet.consumer}: reported ${fleet.receivedAt ? formatTime(fleet.receivedAt) : 'never'}\n`;
}

/** `flotilla fleet --consumer <name>`: the consumer's instances per environment and service. */
export async function printConsumerFleet(name: string, filter: ConsumerFilter, flags: ApiFlags): Promise<void> {
  const fleet = await report(name, flags);
  const instances = fleet.instances.filter((i) => matches(filter, i));
  if (flags.json)
    return printResult({ consumer: fleet.consumer, receivedAt: fleet.receivedAt, instances }, { json: true });
  const groups = new Map<string, typeof instances>();
  for (const i of instances) {
    const key = `${printable(i.environment)} / ${i.service}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  let out = reportedLine(fleet);
  if (groups.size === 0) out += '(no instances reported)\n';
  for (const [key, rows] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out += `\n${key}: ${rows.length} instance${rows.length === 1 ? '' : 's'}\n`;
    out += formatTable(
      rows.map((r) => ({
        instance: printable(r.instanceId),
        version: printable(r.version),
        state: printable(r.state),
        reported: formatTime(r.reportedAt),
      })),
      ['instance', 'version', 'state', 'reported'],
    );
  }
  process.stdout.write(out);
}

/** `flotilla faults list --consumer <name>`: the faults the consumer reported, newest first. */
export async function printConsumerFaults(
  name: string,
  filter: ConsumerFilter,
  limit: number,
  flags: ApiFlags,
): Promise<void> {
  const fleet = await report(name, flags);
  const faults = fleet.faults
    .filter((f) => matches(filter, f) && (!filter.from || f.at >= filter.from))
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .slice(0, limit);
  if (flags.json)
    return printResult({ consumer: fleet.consumer, receivedAt: fleet.receivedAt, faults }, { json: true });
  process.stdout.write(reportedLine(fleet));
  printResult(
    { faults },
    {
      rows: faults.map((f) => ({
        id: printable(f.id),
        time: formatTime(f.at),
        environment: printable(f.environment),
        instance: printable(f.instanceId),
        service: f.service,
        version: printable(f.version),
        reason: printable(f.reason),
      })),
      columns: ['id', 'time', 'environment', 'instance', 'service', 'version', 'reason'],
      empty: 'no fault reports',
    },
  );
}
