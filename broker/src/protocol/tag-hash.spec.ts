import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { continueJavaStringHash, javaStringHashCode, tagsCode } from './tag-hash';

const require = createRequire(import.meta.url);

describe('javaStringHashCode', () => {
  it('matches known Java String.hashCode values', () => {
    // Values computed by Java: "".hashCode()=0, "a"=97, "TagA"=2598919, "hello world"=1794106052, "polygenelubricants"=Integer.MIN_VALUE
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('a')).toBe(97);
    expect(javaStringHashCode('TagA')).toBe(2598919);
    expect(javaStringHashCode('hello world')).toBe(1794106052);
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648);
  });

  it('continues from a prefix hash exactly as hashing the concatenation (index keys topic#key)', () => {
    for (const [a, b] of [['', 'x'], ['TopicA#', '7F000001ABCD'], ['polygenelubricants', 'é😀'], ['T'.repeat(200) + '#', 'k']] as const) {
      expect(continueJavaStringHash(javaStringHashCode(a), b)).toBe(javaStringHashCode(a + b));
    }
  });

  it('hashes UTF-16 code units (surrogate pairs count twice)', () => {
    // "é" = 0xE9; "😀" = \uD83D\uDE00 → 31*0xD83D + 0xDE00
    expect(javaStringHashCode('é')).toBe(0xe9);
    expect(javaStringHashCode('😀')).toBe(31 * 0xd83d + 0xde00);
  });

  it('agrees with ali-ons utils.hashCode', () => {
    const utils = require('ali-ons/lib/utils') as { hashCode(s: string): number };
    for (const s of ['TagA', 'TagB', 'order-created', 'x'.repeat(100), 'ключ', '*', 'a||b']) {
      expect(javaStringHashCode(s)).toBe(utils.hashCode(s));
    }
  });

  it('tagsCode: no tag → 0', () => {
    expect(tagsCode(undefined)).toBe(0);
    expect(tagsCode('')).toBe(0);
    expect(tagsCode('TagA')).toBe(2598919);
  });
});
