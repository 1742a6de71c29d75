// Snapshot locations: Cloud Hypervisor's `file:///dir` URLs (destination_url, source_url).
import { fileURLToPath } from 'node:url';
import { SnapshotError } from './errors.js';

/** The directory a `file://` URL names; SnapshotError('invalid-url') for anything else. */
export function snapshotDirectory(url: string | undefined, field: 'destination_url' | 'source_url'): string {
  if (url === undefined || url === '') throw new SnapshotError('invalid-url', `${field} is required (file:///path/to/dir)`, { details: { field } });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SnapshotError('invalid-url', `${field} ${JSON.stringify(url.slice(0, 200))} is not a URL; give file:///path/to/dir`, { details: { field } });
  }
  if (parsed.protocol !== 'file:') throw new SnapshotError('invalid-url', `${field} must be a file:// URL, not ${parsed.protocol}// (only local snapshot directories are supported)`, { details: { field } });
  if (parsed.host !== '') throw new SnapshotError('invalid-url', `${field} names host ${parsed.host}; a file:// URL here has an empty host (file:///dir)`, { details: { field } });
  if (parsed.search !== '' || parsed.hash !== '') throw new SnapshotError('invalid-url', `${field} must not have a query or fragment`, { details: { field } });
  return fileURLToPath(parsed);
}
