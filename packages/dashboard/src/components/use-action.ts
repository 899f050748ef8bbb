import { useState } from 'react';

/** Runs one user action at a time: `busy` while it runs, and its failure kept in `error` to show. */
export function useAction() {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  /** Resolves true when `what` succeeded. */
  async function run(what: () => Promise<unknown>): Promise<boolean> {
    setError(undefined);
    setBusy(true);
    try {
      await what();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { error, setError, busy, run };
}
