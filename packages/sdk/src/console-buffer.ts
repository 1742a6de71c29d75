// The text a guest console has printed, and expect-style waits on it: each match consumes the text
// up to its end, so the next wait only sees later output. One implementation for a VMM's stdout
// (VmmProcess) and for any other stream carrying a console (a serial socket client in the e2e tests).
import { SerialWaitError } from './errors.js';

/** Console text kept for waits; older output is dropped. */
export const MAX_CONSOLE_CHARS = 16 * 1024 * 1024;

export interface ConsoleBufferOptions {
  /** What carries the console, for messages (default 'the console'). */
  name?: string;
  /** Extra context for failure messages, e.g. "(pid 12 running); stderr tail: ...". */
  describe?: () => string;
  /** Characters kept (default MAX_CONSOLE_CHARS). */
  maxChars?: number;
}

export class ConsoleBuffer {
  #text = '';
  /** Waits match from here: each match moves it to the match's end. */
  #cursor = 0;
  /** Why no more text will come, once it will not. */
  #ended: string | undefined;
  readonly #listeners = new Set<() => void>();
  readonly #name: string;
  readonly #describe: () => string;
  readonly #maxChars: number;

  constructor(options: ConsoleBufferOptions = {}) {
    this.#name = options.name ?? 'the console';
    this.#describe = options.describe ?? (() => '');
    this.#maxChars = options.maxChars ?? MAX_CONSOLE_CHARS;
  }

  /** Everything kept so far (the last `maxChars` characters). */
  get text(): string {
    return this.#text;
  }

  append(text: string): void {
    if (text === '') return;
    this.#text += text;
    if (this.#text.length > this.#maxChars) {
      const drop = this.#text.length - this.#maxChars;
      this.#text = this.#text.slice(drop);
      this.#cursor = Math.max(0, this.#cursor - drop);
    }
    this.#wake();
  }

  /** No more text will come (`reason`, e.g. "the VMM exited (code 0)"): waits that cannot match now reject. */
  end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    this.#wake();
  }

  /**
   * Waits until text not yet consumed matches `pattern` (a string matches literally; g and y flags
   * are ignored). Resolves with the match, whose `index` counts from the start of `text`; the match
   * and everything before it are consumed. Rejects with a SerialWaitError on timeout ('timeout') or
   * once no more text can come ('exited'), quoting the tail of the text.
   */
  wait(pattern: RegExp | string, timeoutMs: number): Promise<RegExpExecArray> {
    // A private copy without g/y so lastIndex state never leaks between calls.
    const re = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return new Promise<RegExpExecArray>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      const check = (): void => {
        const from = this.#cursor;
        const match = re.exec(this.#text.slice(from));
        if (match !== null) {
          match.index += from;
          this.#cursor = match.index + match[0].length;
          finish();
          resolve(match);
        } else if (this.#ended !== undefined) {
          finish();
          reject(new SerialWaitError('exited', `${this.#ended} before ${this.#name} matched ${String(re)}${this.#describe()}; ${this.#name} tail: ${tail(this.#text)}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new SerialWaitError('timeout', `${this.#name} did not match ${String(re)} within ${timeoutMs} ms${this.#describe()}; ${this.#name} tail: ${tail(this.#text)}`));
      }, timeoutMs);
      this.#listeners.add(check);
      check();
    });
  }

  #wake(): void {
    for (const wake of [...this.#listeners]) wake();
  }
}

/** The last `chars` characters of `text`, JSON-quoted for a message. */
export function tail(text: string, chars = 500): string {
  const t = text.length > chars ? `...${text.slice(-chars)}` : text;
  return JSON.stringify(t);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
