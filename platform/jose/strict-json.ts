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

function assertNoDuplicateMembers(text: string): void {
  // Stack of key sets for open objects (null for arrays).
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) throw new DuplicateMemberError(key);
        top.add(key);
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] != null;
    }
    i += 1;
  }
}
