// The page lists of virtio-balloon's inflate and deflate queues (virtio 1.2 section 5.5.6): arrays
// of le32 page frame numbers of 4 KiB pages, whatever the guest's own page size; turned into
// sorted, merged guest-physical ranges so that contiguous pages cost one discard.

/** The balloon's page size (5.5.6: "4096 bytes", VIRTIO_BALLOON_PFN_SHIFT 12). */
export const BALLOON_PAGE_SIZE = 4096;
const PFN_BYTES = 4;

/** A guest-physical byte range [gpa, gpa+len). */
export interface PageRange {
  readonly gpa: number;
  readonly len: number;
}

/** The le32 PFNs in `bytes` (a trailing partial entry is left out; the caller counts it). */
export function readPfns(bytes: Uint8Array): Uint32Array {
  const n = Math.floor(bytes.length / PFN_BYTES);
  const out = new Uint32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * PFN_BYTES);
  for (let i = 0; i < n; i++) out[i] = view.getUint32(i * PFN_BYTES, true);
  return out;
}

/** The pages `pfns` name as ranges, sorted by address, duplicates dropped and neighbours merged. */
export function coalescePfns(pfns: Uint32Array): PageRange[] {
  const sorted = Uint32Array.from(pfns).sort();
  const ranges: PageRange[] = [];
  let start = -1;
  let end = -1; // exclusive page number
  for (const pfn of sorted) {
    if (pfn === end - 1) continue; // a duplicate of the previous page
    if (pfn === end) {
      end++;
      continue;
    }
    if (start >= 0) ranges.push({ gpa: start * BALLOON_PAGE_SIZE, len: (end - start) * BALLOON_PAGE_SIZE });
    start = pfn;
    end = pfn + 1;
  }
  if (start >= 0) ranges.push({ gpa: start * BALLOON_PAGE_SIZE, len: (end - start) * BALLOON_PAGE_SIZE });
  return ranges;
}
