import type { VersionDetail } from '@flotilla/protocol';
import { csrfHeaders, errorFrom, withQuery } from './client.ts';

export interface PublishInput {
  service: string;
  version: string;
  file: Blob;
  notes?: string;
  /** Bytes sent so far and the total, as the browser reports them. */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

/** Publishes a version with XMLHttpRequest: fetch() cannot report upload progress. */
export function publishVersion(input: PublishInput): Promise<VersionDetail> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const path = withQuery(
      `/api/v1/services/${encodeURIComponent(input.service)}/versions/${encodeURIComponent(input.version)}`,
      { notes: input.notes },
    );
    xhr.open('PUT', path);
    xhr.withCredentials = false;
    for (const [k, v] of Object.entries(csrfHeaders)) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('content-type', 'application/gzip');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (e) => input.onProgress?.(e.loaded, e.lengthComputable ? e.total : input.file.size);
    xhr.onload = async () => {
      if (xhr.status === 201) resolve(JSON.parse(xhr.responseText) as VersionDetail);
      else reject(await errorFrom(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new Error('the upload failed: the connection to the server broke'));
    xhr.onabort = () => reject(new Error('the upload was cancelled'));
    input.signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(input.file);
  });
}
