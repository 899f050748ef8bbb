// Append-only JSON-lines journal of update transactions, fsynced before and after each step,
// so a restarted agent knows exactly how far an interrupted update got.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Phase = 'begin' | 'done';

export interface JournalRecord {
  txId: string;
  step: string;
  phase: Phase;
  /** ISO-8601 UTC. */
  at: string;
  data?: unknown;
}

/** Records that close a transaction. */
export const terminalSteps = ['committed', 'rolled-back'] as const;

export interface OpenTransaction {
  txId: string;
  records: JournalRecord[];
}

export class Journal {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  /** Appends one record and fsyncs it; returns only once it is durable. */
  append(record: Omit<JournalRecord, 'at'> & { at?: string }): JournalRecord {
    const full: JournalRecord = {
      txId: record.txId,
      step: record.step,
      phase: record.phase,
      at: record.at ?? new Date().toISOString(),
    };
    if (record.data !== undefined) full.data = record.data;
    const created = !existsSync(this.file);
    if (created) mkdirSync(dirname(this.file), { recursive: true });
    const fd = openSync(this.file, 'a', 0o600);
    try {
      // A torn previous line (crash mid-write) must not swallow this record: start on a fresh line.
      const prefix = created ? '' : needsNewline(this.file) ? '\n' : '';
      writeSync(fd, `${prefix}${JSON.stringify(full)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) fsyncDir(dirname(this.file));
    return full;
  }

  read(): JournalRecord[] {
    return readJournal(this.file);
  }

  openTransaction(): OpenTransaction | null {
    return openTransactionOf(this.read());
  }
}

function needsNewline(file: string): boolean {
  const text = readFileSync(file);
  return text.length > 0 && text[text.length - 1] !== 0x0a;
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** All complete records; a torn or unparsable line is skipped. */
export function readJournal(file: string): JournalRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as JournalRecord;
      if (typeof r.txId === 'string' && typeof r.step === 'string' && (r.phase === 'begin' || r.phase === 'done'))
        records.push(r);
    } catch {
      // torn line from a crash mid-write
    }
  }
  return records;
}

function openTransactionOf(records: JournalRecord[]): OpenTransaction | null {
  const last = records[records.length - 1];
  if (!last) return null;
  const txRecords = records.filter((r) => r.txId === last.txId);
  if (txRecords.some((r) => (terminalSteps as readonly string[]).includes(r.step))) return null;
  return { txId: last.txId, records: txRecords };
}

/**
 * The last transaction that has no `committed` / `rolled-back` record, from a journal file or from a
 * service directory holding `journal.log`.
 */
export function readOpenTransaction(path: string): OpenTransaction | null {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'journal.log') : path;
  return openTransactionOf(readJournal(file));
}

/** Steps of a transaction by phase: `done` ⊆ `begun`. */
export function stepsOf(tx: OpenTransaction): { begun: Set<string>; done: Set<string> } {
  const begun = new Set<string>();
  const done = new Set<string>();
  for (const r of tx.records) (r.phase === 'begin' ? begun : done).add(r.step);
  return { begun, done };
}
