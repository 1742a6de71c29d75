// Where a JSON text stops being valid (RFC 8259), for messages that must not quote the text: V8's
// SyntaxError messages embed pieces of the input (`Unexpected token 'r', "root:$y$j9T"...`), and a
// config file may be a secret (`--config-file /etc/shadow`).

/** A 0-based offset and its 1-based line and column. */
export interface JsonErrorLocation {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES = new Set([...'"\\/bfnrt'].map((c) => c.charCodeAt(0)));
const HEX = /^[0-9a-fA-F]{4}$/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The offset of the first character at which `text` is not valid JSON (text.length when it ends
 * early), or undefined when it is valid. Iterative, so deep nesting cannot overflow the stack.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const skip = (): void => {
    while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  };
  /** Scans a string starting at the opening quote; false at the bad character. */
  const string = (): boolean => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const e = text.charCodeAt(i + 1);
        if (e === 0x75) {
          if (!HEX.test(text.slice(i + 2, i + 6))) {
            i += 2;
            return false;
          }
          i += 6;
        } else if (ESCAPES.has(e)) {
          i += 2;
        } else {
          i++;
          return false;
        }
      } else {
        i++;
      }
    }
    return false;
  };
  /** Scans true, false, null or a number; false at the bad character. */
  const scalar = (): boolean => {
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return true;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return false;
    i += m[0].length;
    return true;
  };
  /** A member's key and colon; false at the bad character. */
  const key = (): boolean => {
    if (text[i] !== '"' || !string()) return false;
    skip();
    if (text[i] !== ':') return false;
    i++;
    return true;
  };

  /** Open containers, innermost last. */
  const stack: Array<'{' | '['> = [];
  let expectValue = true;
  for (;;) {
    skip();
    if (expectValue) {
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        skip();
        if (text[i] === (c === '{' ? '}' : ']')) {
          i++;
          expectValue = false;
        } else {
          stack.push(c);
          if (c === '{' && !key()) return i;
        }
      } else if (c === '"' ? !string() : !scalar()) {
        return i;
      } else {
        expectValue = false;
      }
      continue;
    }
    const top = stack[stack.length - 1];
    if (top === undefined) return i === text.length ? undefined : i;
    if (text[i] === (top === '{' ? '}' : ']')) {
      stack.pop();
      i++;
      continue;
    }
    if (text[i] !== ',') return i;
    i++;
    skip();
    if (top === '{' && !key()) return i;
    expectValue = true;
  }
}

/** jsonErrorOffset with a line and column, or undefined for valid JSON. */
export function jsonErrorLocation(text: string): JsonErrorLocation | undefined {
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return undefined;
  let line = 1;
  let lineStart = 0;
  for (let j = text.indexOf('\n'); j >= 0 && j < offset; j = text.indexOf('\n', j + 1)) {
    line++;
    lineStart = j + 1;
  }
  return { offset, line, column: offset - lineStart + 1 };
}

/**
 * Why `text` is not JSON, naming only a position: "ends before the JSON value is complete" or
 * "unexpected character at line 3, column 7". Never quotes the text.
 */
export function describeJsonError(text: string): string {
  const at = jsonErrorLocation(text);
  if (at === undefined) return 'not valid JSON';
  if (at.offset >= text.length) return `it ends before the JSON value is complete (line ${at.line}, column ${at.column})`;
  return `unexpected character at line ${at.line}, column ${at.column}`;
}
