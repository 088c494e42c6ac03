import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  createOffsetMessageId,
  isOffsetMessageId,
  MessageIdError,
  parseOffsetMessageId,
  parseUniqueId,
  UniqueIdGenerator,
} from './message-id';

const require = createRequire(import.meta.url);

describe('offset message id', () => {
  it('creates 32 uppercase hex for IPv4 (hand-derived)', () => {
    // 7f000001 | 00002a9f | 0000000100000010
    expect(createOffsetMessageId({ host: '127.0.0.1', port: 10911 }, 2 ** 32 + 16)).toBe('7F00000100002A9F0000000100000010');
  });

  it('creates 56 hex for IPv6 and normalises IPv4-mapped', () => {
    const id = createOffsetMessageId({ host: '::1', port: 10911 }, 5);
    expect(id).toBe('00000000000000000000000000000001' + '00002A9F' + '0000000000000005');
    expect(parseOffsetMessageId(id)).toEqual({ address: { host: '::1', port: 10911 }, offset: 5 });
    expect(createOffsetMessageId({ host: '::ffff:10.1.2.3', port: 1 }, 0)).toHaveLength(32);
  });

  it('parses ids (any case) and agrees with ali-ons decodeMessageId', () => {
    const id = createOffsetMessageId({ host: '10.0.0.5', port: 10911 }, 123456789012);
    expect(parseOffsetMessageId(id.toLowerCase())).toEqual({ address: { host: '10.0.0.5', port: 10911 }, offset: 123456789012 });
    const decoder = require('ali-ons/lib/message/message_decoder') as {
      decodeMessageId(id: string): { address: string; offset: { toNumber(): number } };
    };
    const theirs = decoder.decodeMessageId(id);
    expect(theirs.address).toBe('10.0.0.5:10911');
    expect(theirs.offset.toNumber()).toBe(123456789012);
  });

  it('rejects malformed ids', () => {
    expect(() => parseOffsetMessageId('XYZ')).toThrow(MessageIdError);
    expect(() => parseOffsetMessageId('G'.repeat(32))).toThrow(MessageIdError);
    expect(isOffsetMessageId('7F00000100002A9F0000000100000010')).toBe(true);
    expect(isOffsetMessageId('7F00000100002A9F00000001000000')).toBe(false);
  });
});

describe('UniqueIdGenerator (UNIQ_KEY)', () => {
  it('lays out ip | pid | salt | ms-in-month | counter', () => {
    const now = new Date(2026, 10, 3, 4, 5, 6, 7).getTime(); // local time, like Java's Calendar
    const gen = new UniqueIdGenerator({ ip: '10.0.0.5', pid: 0x1234, salt: 0x0abbccdd, now: () => now });
    const a = gen.next();
    const b = gen.next();
    expect(a).toMatch(/^[0-9A-F]{32}$/);
    expect(a.slice(0, 20)).toBe('0A000005' + '1234' + '0ABBCCDD');
    const msInMonth = now - new Date(2026, 10, 1).getTime();
    expect(a.slice(20, 28)).toBe(msInMonth.toString(16).toUpperCase().padStart(8, '0'));
    const pa = parseUniqueId(a);
    const pb = parseUniqueId(b);
    expect(pa).toMatchObject({ host: '10.0.0.5', pid: 0x1234, msInMonth });
    expect((pb.counter - pa.counter) & 0xffff).toBe(1);
  });

  it('is unique across many calls and resets the base at a new month', () => {
    let t = new Date(2026, 0, 31, 23, 59, 59, 999).getTime();
    const gen = new UniqueIdGenerator({ now: () => t });
    const seen = new Set<string>();
    for (let i = 0; i < 10000; i++) seen.add(gen.next());
    expect(seen.size).toBe(10000);
    t += 1;
    expect(parseUniqueId(gen.next()).msInMonth).toBe(0);
  });

  it('uses 56 hex for an IPv6 prefix', () => {
    expect(new UniqueIdGenerator({ ip: '::1' }).next()).toMatch(/^[0-9A-F]{56}$/);
  });
});
