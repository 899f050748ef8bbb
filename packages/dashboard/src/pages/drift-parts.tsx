import type { DriftItem } from '@flotilla/protocol';
import { Link } from 'react-router';
import { formatTime } from '../components/ui.tsx';
import { behindLabel, type DriftShade, safeHttpUrl, shadeOf, supportText } from './drift-api.ts';

/** The Drift pages' sections: subjects per place, and the upstreams they are compared with. */
export function DriftTabs({ current }: { current: 'subjects' | 'upstreams' }) {
  return (
    <nav className="tabs" aria-label="Drift sections">
      <Link className="tab" to="/drift" aria-current={current === 'subjects' ? 'page' : undefined}>
        Subjects
      </Link>
      <Link className="tab" to="/drift/upstreams" aria-current={current === 'upstreams' ? 'page' : undefined}>
        Upstreams
      </Link>
    </nav>
  );
}

type Resolved = Partial<Pick<DriftItem, 'behind' | 'majorsBehind' | 'minorsBehind' | 'patchesBehind' | 'resolvedAt'>>;

/** How far behind, in words on the severity's colour. */
export function BehindBadge({ item, shade = shadeOf(item) }: { item: Resolved; shade?: DriftShade }) {
  return <span className={`badge drift-${shade}`}>{behindLabel(shade, item)}</span>;
}

/** When the place last reported, marked when it has stopped. */
export function ReportedText({ item }: { item: Pick<DriftItem, 'reportedAt' | 'staleSince'> }) {
  if (!item.staleSince) return <>{formatTime(item.reportedAt)}</>;
  return (
    <>
      <span className="badge drift-stale">stale</span> since {formatTime(item.staleSince)}
    </>
  );
}

/** The tracker's own error (the agent could not read a version) and the server's comparison error. */
export function ProblemText({ item }: { item: Partial<Pick<DriftItem, 'error' | 'resolveError'>> }) {
  if (!item.error && !item.resolveError) return null;
  return (
    <>
      {item.error ? <span className="bad">Tracker: {item.error}</span> : null}
      {item.error && item.resolveError ? ' ' : null}
      {item.resolveError ? <span className="bad">Comparison: {item.resolveError}</span> : null}
    </>
  );
}

/** A link to an upstream page in a new tab, only for http(s) URLs; other URLs are not links. */
export function UpstreamLink({ url, children }: { url: string | undefined; children: string }) {
  const href = safeHttpUrl(url);
  if (!href) return <>{children}</>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}

/** When support of the running version's cycle ends (endoflife.date), in red once it is near or past. */
export function SupportEnd({ at }: { at: string | null | undefined }) {
  const support = supportText(at);
  if (!support || !at) return null;
  return (
    <span className={support.urgent ? 'bad' : 'muted'} title={formatTime(at)}>
      {support.text}
    </span>
  );
}
