import { describe, expect, it } from 'vitest';
import { DuplicateMemberError, parseStrictJson } from '../../platform/jose/strict-json.js';

const duplicate = (text: string) => {
  try {
    parseStrictJson(text);
  } catch (error) {
    if (error instanceof DuplicateMemberError) return error.member;
    throw error;
  }
  return null;
};

describe('parseStrictJson', () => {
  it('parses what JSON.parse parses when no object repeats a member', () => {
    const text = '{"a":1,"b":{"a":[{"a":2},{"a":3}],"c":"}{\\"a\\":"},"d":[["x"],{"e":null}]}';
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    expect(parseStrictJson('[1,"two",{"three":3}]')).toEqual([1, 'two', { three: 3 }]);
    expect(parseStrictJson('"just a string"')).toBe('just a string');
  });

  it('refuses a member repeated at the top, in a nested object and in an object inside an array', () => {
    expect(duplicate('{"alg":"RS256","alg":"none"}')).toBe('alg');
    expect(duplicate('{"x":{"kid":"1","typ":"JWT","kid":"2"}}')).toBe('kid');
    expect(duplicate('{"keys":[{"kty":"RSA"},{"kty":"RSA","kty":"oct"}]}')).toBe('kty');
  });

  it('compares names decoded: an escaped spelling of a member is the same member', () => {
    expect(duplicate('{"alg":"RS256","\\u0061lg":"none"}')).toBe('alg');
    expect(duplicate('{"a\\"b":1,"a\\u0022b":2}')).toBe('a"b');
  });

  it('does not take strings that look like members, or values equal to a name, for members', () => {
    expect(duplicate('{"a":"a","b":"\\",\\"a\\":1","c":["a","a"]}')).toBeNull();
    expect(duplicate('{"a":{"b":1},"b":{"a":1}}')).toBeNull();
    expect(duplicate('{"a\\\\":1,"a":2}')).toBeNull();
  });

  it('leaves syntax errors to JSON.parse', () => {
    expect(() => parseStrictJson('{"a":1,"a"')).toThrow(SyntaxError);
  });
});
