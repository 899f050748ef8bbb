import type { VersionDetail } from '@flotilla/protocol';
import { type FormEvent, useRef, useState } from 'react';
import { publishVersion } from '../api/upload.ts';
import { ErrorNote, formatBytes } from '../components/ui.tsx';

/** Uploads a .tar.gz as a new version of `service`, with a progress bar. */
export function PublishForm({ service, onPublished }: { service: string; onPublished: (v: VersionDetail) => void }) {
  const [version, setVersion] = useState('');
  const [notes, setNotes] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!file) return;
    setError(undefined);
    setDone(null);
    abort.current = new AbortController();
    setProgress({ sent: 0, total: file.size });
    try {
      const created = await publishVersion({
        service,
        version,
        file,
        notes: notes || undefined,
        signal: abort.current.signal,
        onProgress: (sent, total) => setProgress({ sent, total }),
      });
      setDone(`Published ${created.service} ${created.version} (${created.digest.slice(0, 19)}…)`);
      setVersion('');
      setNotes('');
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      onPublished(created);
    } catch (err) {
      setError(err);
    } finally {
      setProgress(null);
      abort.current = null;
    }
  }

  return (
    <details className="card">
      <summary>Publish a version of {service}</summary>
      <form className="inline-form" onSubmit={submit} aria-label={`Publish a version of ${service}`}>
        <label>
          Version
          <input value={version} onChange={(e) => setVersion(e.target.value)} required placeholder="1.2.3" />
        </label>
        <label>
          Notes
          <input value={notes} onChange={(e) => setNotes(e.target.value)} placeholder="What changed" />
        </label>
        <label>
          Archive (.tar.gz with flotilla.json)
          <input
            ref={fileInput}
            type="file"
            accept=".tar.gz,.tgz,application/gzip"
            required
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </label>
        <button type="submit" disabled={progress !== null}>
          Publish
        </button>
        {progress ? (
          <button type="button" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        ) : null}
      </form>
      {progress ? (
        <label>
          Uploading {formatBytes(progress.sent)} of {formatBytes(progress.total)}
          <progress max={progress.total || 1} value={progress.sent} />
        </label>
      ) : null}
      <ErrorNote error={error} title="The version was not published" />
      {done ? (
        <p className="notice" role="status">
          {done}
        </p>
      ) : null}
    </details>
  );
}
