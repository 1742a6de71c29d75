// What the nested Linux tier's progress file (progress-reporter.ts) says: the test files a
// vitest run planned, started and finished, and how each finished.

export type ProgressEvent =
  | { event: 'plan'; files: string[] }
  | { event: 'start'; file: string }
  | { event: 'end'; file: string; state: string };

export interface TierProgress {
  /** Every file the run planned, in its order. */
  planned: string[];
  /** Files that finished, with vitest's module state (`passed`, `failed`, `skipped`). */
  finished: Map<string, string>;
  /** Files that started and did not finish (the one running when L1 stopped). */
  unfinished: string[];
}

/** Reads a progress file's lines; a torn last line (L1 killed mid-write) is ignored. */
export function parseProgress(text: string): TierProgress {
  const planned: string[] = [];
  const started: string[] = [];
  const finished = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let event: ProgressEvent;
    try {
      event = JSON.parse(line) as ProgressEvent;
    } catch {
      continue;
    }
    if (event.event === 'plan') planned.push(...event.files.filter((file) => !planned.includes(file)));
    else if (event.event === 'start') started.push(event.file);
    else if (event.event === 'end') finished.set(event.file, event.state);
  }
  return { planned, finished, unfinished: started.filter((file) => !finished.has(file)) };
}

/** The planned files that have not finished, in plan order. */
export function remainingFiles(progress: TierProgress): string[] {
  return progress.planned.filter((file) => !progress.finished.has(file));
}
