import { DcrError } from '../../core/errors/dcr-error.js';

/**
 * JSON.parse that refuses duplicate member names anywhere in the document (RFC 7515 §5.2 lets us
 * reject; JSON.parse would silently keep the last one, which is how confusion attacks start).
 * The scan only tracks strings and nesting; JSON.parse does the real parsing and syntax checks.
 */
export class DuplicateMemberError extends DcrError {
  readonly code = 'ERR_JSON_DUPLICATE_MEMBER';
  constructor(readonly member: string) {
    super(`duplicate member name '${member}'`);
  }
}

export function parseStrictJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  assertNoDuplicateMembers(text);
  return value;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Runs on text JSON.parse accepted, so strings are well formed and the structure balanced. */
function assertNoDuplicateMembers(text: string): void {
  // Stack of key sets for open objects (null for arrays).
  const stack: Array<Set<string> | null> = [];
  let top: Set<string> | null = null;
  let expectKey = false;
  const length = text.length;
  for (let i = 0; i < length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      while (j < length) {
        const d = text.charCodeAt(j);
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          j += 2;
        } else j += 1;
      }
      if (expectKey && top) {
        // A name with an escape is compared decoded: "a" and "\u0061" are the same member.
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.has(key)) throw new DuplicateMemberError(key);
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === OPEN_OBJECT) {
      top = new Set();
      stack.push(top);
      expectKey = true;
    } else if (c === OPEN_ARRAY) {
      top = null;
      stack.push(null);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
      top = stack.length > 0 ? (stack[stack.length - 1] as Set<string> | null) : null;
    } else if (c === COMMA) {
      expectKey = top !== null;
    }
  }
}
