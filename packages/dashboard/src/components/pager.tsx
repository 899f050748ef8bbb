import type { ReactNode } from 'react';

/**
 * The "Newest …" / "Older …" buttons under a list read page by page, newest first. A button shows
 * only when it leads somewhere: `onNewest` once past the first page, `onOlder` while more remain.
 */
export function NewestOlderPager({
  what,
  onNewest,
  onOlder,
  children,
}: {
  /** What the list holds, in the plural: "reports" gives "Newest reports" and "Older reports". */
  what: string;
  onNewest?: (() => void) | undefined;
  onOlder?: (() => void) | undefined;
  children?: ReactNode;
}) {
  return (
    <div className="pager">
      {onNewest ? (
        <button type="button" onClick={onNewest}>
          Newest {what}
        </button>
      ) : null}
      {onOlder ? (
        <button type="button" onClick={onOlder}>
          Older {what}
        </button>
      ) : null}
      {children}
    </div>
  );
}
