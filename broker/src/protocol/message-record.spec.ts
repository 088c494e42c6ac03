import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { MessageSysFlag } from './message-const';
import {
  BLANK_MAGIC_CODE,
  bytesToHost,
  checkRecordAt,
  computeBodyCrc,
  decodeMessageRecord,
  decodeMessageRecords,
  decodeProperties,
  encodeMessageRecord,
  encodeProperties,
  hostToBytes,
  MESSAGE_MAGIC_CODE_V1,
  MESSAGE_MAGIC_CODE_V2,
  MessageRecordError,
  type MessageRecordInput,
  normaliseHost,
  parseHostAddress,
  patchRecordOffsets,
  prepareMessageRecord,
  readInt64,
  readRecordProperties,
  RECORD_FIXED_BYTES_V1_IPV4,
  RecordOffset,
  RecordStatus,
  storeTimestampPosition,
  writeBlankRecord,
  writeInt64,
  writePreparedRecord,
} from './message-record';

const require = createRequire(import.meta.url);

/** Hand-derived V1/IPv4 record (see the byte-by-byte comments). */
const V1_FIXTURE_HEX = [
  '00000065', // TOTALSIZE 101 = 91 + body 2 + topic 1 + props 7
  'daa320a7', // MAGIC V1
  '58932aac', // BODYCRC crc32("hi") & 0x7fffffff
  '00000003', // QUEUEID 3
  '00000000', // FLAG 0
  '0000000000000007', // QUEUEOFFSET 7
  '0000000100000010', // PHYSICALOFFSET 2^32 + 16
  '00000000', // SYSFLAG
  '0000018bcfe56800', // BORNTIMESTAMP 1700000000000
  '0a000005', '0000c738', // BORNHOST 10.0.0.5:51000
  '0000018bcfe5687b', // STORETIMESTAMP 1700000000123
  '7f000001', '00002a9f', // STOREHOST 127.0.0.1:10911
  '00000000', // RECONSUMETIMES
  '0000000000000000', // PREPARED TRANSACTION OFFSET
  '00000002', '6869', // BODY "hi"
  '01', '54', // TOPIC "T"
  '0007', '54414753016102', // PROPERTIES "TAGS\x01a\x02"
].join('');

function baseInput(overrides: Partial<MessageRecordInput> = {}): MessageRecordInput {
  return {
    queueId: 3,
    flag: 0,
    queueOffset: 7,
    physicalOffset: 2 ** 32 + 16,
    sysFlag: 0,
    bornTimestamp: 1700000000000,
    bornHost: { host: '10.0.0.5', port: 51000 },
    storeTimestamp: 1700000000123,
    storeHost: { host: '127.0.0.1', port: 10911 },
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from('hi'),
    topic: 'T',
    properties: { TAGS: 'a' },
    ...overrides,
  };
}

describe('properties', () => {
  it('encodes k\\u0001v\\u0002 with a trailing separator and skips null values', () => {
    expect(encodeProperties({ TAGS: 'a', KEYS: 'k1 k2', X: null, Y: undefined })).toBe('TAGS\u0001a\u0002KEYS\u0001k1 k2\u0002');
    expect(encodeProperties(undefined)).toBe('');
  });

  it('decodes keeping only non-empty name and value, with or without trailing separator', () => {
    expect(decodeProperties('TAGS\u0001a\u0002KEYS\u0001k\u0002')).toEqual({ TAGS: 'a', KEYS: 'k' });
    expect(decodeProperties('TAGS\u0001a\u0002KEYS\u0001k')).toEqual({ TAGS: 'a', KEYS: 'k' });
    expect(decodeProperties('E\u0001\u0002\u0001v\u0002junk\u0002A\u0001b\u0001c\u0002')).toEqual({ A: 'b\u0001c' });
    expect(decodeProperties('')).toEqual({});
  });

  it('keeps ali-ons "TAGS\\u0001null" as the string null (Java does the same)', () => {
    expect(decodeProperties('TAGS\u0001null\u0002')).toEqual({ TAGS: 'null' });
  });
});

describe('hosts', () => {
  it('parses IPv4, IPv6 and IPv4-mapped IPv6', () => {
    expect(hostToBytes('10.0.0.5').toString('hex')).toBe('0a000005');
    expect(hostToBytes('::ffff:10.0.0.5').toString('hex')).toBe('0a000005');
    expect(hostToBytes('::1').toString('hex')).toBe('00000000000000000000000000000001');
    expect(hostToBytes('fe80::1:2').toString('hex')).toBe('fe800000000000000000000000010002');
    expect(() => hostToBytes('example.com')).toThrow(/not an IP/);
    expect(() => hostToBytes('1.2.3.256')).toThrow(/not an IP/);
  });

  it('formats IPv6 compressed and round-trips', () => {
    expect(bytesToHost(hostToBytes('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(normaliseHost('::FFFF:1.2.3.4')).toBe('1.2.3.4');
    expect(normaliseHost('::')).toBe('::');
    expect(parseHostAddress('[::1]:10911')).toEqual({ host: '::1', port: 10911 });
    expect(parseHostAddress('127.0.0.1:9876')).toEqual({ host: '127.0.0.1', port: 9876 });
  });
});

describe('int64 helpers', () => {
  it('round-trips edge values without BigInt', () => {
    const buf = Buffer.alloc(8);
    for (const v of [0, 1, -1, 2 ** 32, 2 ** 32 - 1, -(2 ** 32), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1700000000123]) {
      writeInt64(buf, v, 0);
      expect(buf.readBigInt64BE(0)).toBe(BigInt(v));
      expect(readInt64(buf, 0)).toBe(v);
    }
  });
});

describe('encodeMessageRecord', () => {
  it('matches the hand-derived V1/IPv4 fixture byte for byte', () => {
    const buf = encodeMessageRecord(baseInput());
    expect(buf.toString('hex')).toBe(V1_FIXTURE_HEX);
    expect(buf.length).toBe(RECORD_FIXED_BYTES_V1_IPV4 + 2 + 1 + 7);
  });

  it('accepts a pre-encoded properties string', () => {
    const buf = encodeMessageRecord(baseInput({ properties: 'TAGS\u0001a\u0002' }));
    expect(buf.toString('hex')).toBe(V1_FIXTURE_HEX);
  });

  it('writes V2 with an int16 topic length when the topic exceeds 127 bytes', () => {
    const topic = 'x'.repeat(128);
    const buf = encodeMessageRecord(baseInput({ topic }));
    expect(buf.readUInt32BE(4)).toBe(MESSAGE_MAGIC_CODE_V2);
    const topicLenPos = 84 + 4 + 2;
    expect(buf.readInt16BE(topicLenPos)).toBe(128);
    const { record, size } = decodeMessageRecord(buf);
    expect(size).toBe(buf.length);
    expect(record.topic).toBe(topic);
    expect(record.magic).toBe(MESSAGE_MAGIC_CODE_V2);
    // 127 bytes still fits V1
    expect(encodeMessageRecord(baseInput({ topic: 'y'.repeat(127) })).readUInt32BE(4)).toBe(MESSAGE_MAGIC_CODE_V1);
  });

  it('writes IPv6 hosts with 16-byte addresses and sets 0x10/0x20', () => {
    const buf = encodeMessageRecord(baseInput({ bornHost: { host: '::1', port: 1 }, storeHost: { host: 'fe80::2', port: 10911 } }));
    expect(buf.length).toBe(101 + 24);
    const sysFlag = buf.readInt32BE(RecordOffset.SYSFLAG);
    expect(sysFlag & MessageSysFlag.BORNHOST_V6).toBe(MessageSysFlag.BORNHOST_V6);
    expect(sysFlag & MessageSysFlag.STOREHOST_V6).toBe(MessageSysFlag.STOREHOST_V6);
    // hand-derived host bytes: born ::1 port 1, then store timestamp, then fe80::2 port 10911
    expect(buf.subarray(48, 68).toString('hex')).toBe('00000000000000000000000000000001' + '00000001');
    expect(buf.subarray(68, 76).toString('hex')).toBe('0000018bcfe5687b');
    expect(buf.subarray(76, 96).toString('hex')).toBe('fe800000000000000000000000000002' + '00002a9f');
    const { record } = decodeMessageRecord(buf);
    expect(record.bornHost).toEqual({ host: '::1', port: 1 });
    expect(record.storeHost).toEqual({ host: 'fe80::2', port: 10911 });
    expect(record.storeTimestamp).toBe(1700000000123);
    expect(record.properties).toEqual({ TAGS: 'a' });
  });

  it('writes IPv4-mapped IPv6 peers as IPv4 and clears stale host bits', () => {
    const buf = encodeMessageRecord(
      baseInput({ bornHost: { host: '::ffff:10.0.0.5', port: 51000 }, sysFlag: MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6 }),
    );
    expect(buf.toString('hex')).toBe(V1_FIXTURE_HEX);
  });

  it('rejects properties over 32767 bytes', () => {
    expect(() => encodeMessageRecord(baseInput({ properties: { K: 'v'.repeat(32767) } }))).toThrow(MessageRecordError);
  });

  it('prepare + writePreparedRecord writes into a shared buffer at an offset', () => {
    const prep = prepareMessageRecord(baseInput());
    const target = Buffer.alloc(prep.totalSize + 10);
    expect(writePreparedRecord(prep, target, 5)).toBe(5 + prep.totalSize);
    expect(target.subarray(5, 5 + prep.totalSize).toString('hex')).toBe(V1_FIXTURE_HEX);
  });
});

describe('decodeMessageRecord', () => {
  it('decodes the fixture into every field', () => {
    const { record, size } = decodeMessageRecord(Buffer.from(V1_FIXTURE_HEX, 'hex'), 0, { verifyCrc: true });
    expect(size).toBe(101);
    expect(record).toEqual({
      totalSize: 101,
      magic: MESSAGE_MAGIC_CODE_V1,
      bodyCrc: 0x58932aac,
      queueId: 3,
      flag: 0,
      queueOffset: 7,
      physicalOffset: 2 ** 32 + 16,
      sysFlag: 0,
      bornTimestamp: 1700000000000,
      bornHost: { host: '10.0.0.5', port: 51000 },
      storeTimestamp: 1700000000123,
      storeHost: { host: '127.0.0.1', port: 10911 },
      reconsumeTimes: 0,
      preparedTransactionOffset: 0,
      body: Buffer.from('hi'),
      topic: 'T',
      properties: { TAGS: 'a' },
    });
  });

  it('round-trips negative and large fields, multi-byte topics and bodies', () => {
    const input = baseInput({
      queueId: 2_000_000_000,
      flag: -5,
      sysFlag: MessageSysFlag.COMPRESSED | MessageSysFlag.TRANSACTION_COMMIT_TYPE,
      reconsumeTimes: 16,
      preparedTransactionOffset: 123456789012,
      topic: 'Tópico',
      body: Buffer.from([0, 1, 2, 255]),
      properties: { UNIQ_KEY: 'ABC', KEYS: 'ключ' },
    });
    const { record } = decodeMessageRecord(encodeMessageRecord(input));
    expect(record.flag).toBe(-5);
    expect(record.sysFlag).toBe(0x9);
    expect(record.topic).toBe('Tópico');
    expect(record.preparedTransactionOffset).toBe(123456789012);
    expect(record.properties).toEqual({ UNIQ_KEY: 'ABC', KEYS: 'ключ' });
    expect([...record.body]).toEqual([0, 1, 2, 255]);
  });

  it('throws a typed error on a CRC mismatch when asked to verify', () => {
    const buf = Buffer.from(V1_FIXTURE_HEX, 'hex');
    buf[RecordOffset.BODYLENGTH_V4 + 4] = 0x41;
    expect(() => decodeMessageRecord(buf, 0, { verifyCrc: true })).toThrow(MessageRecordError);
    expect(decodeMessageRecord(buf).record.body.toString()).toBe('Ai');
  });

  it('is read by the ali-ons decoder (V1 + IPv4) with the same fields and msgId', () => {
    const ByteBuffer = require('byte') as { wrap(b: Buffer): unknown };
    const decoder = require('ali-ons/lib/message/message_decoder') as {
      decodes(bb: unknown): Array<Record<string, unknown>>;
    };
    const a = encodeMessageRecord(baseInput());
    const b = encodeMessageRecord(baseInput({ queueOffset: 8, physicalOffset: 2 ** 32 + 117, properties: { KEYS: 'k', UNIQ_KEY: 'U' } }));
    const msgs = decoder.decodes(ByteBuffer.wrap(Buffer.concat([a, b])));
    expect(msgs).toHaveLength(2);
    expect(msgs[0]).toMatchObject({
      topic: 'T',
      queueId: 3,
      queueOffset: 7,
      commitLogOffset: 2 ** 32 + 16,
      bornHost: '10.0.0.5:51000',
      storeHost: '127.0.0.1:10911',
      storeTimestamp: 1700000000123,
      msgId: '7F00000100002A9F0000000100000010',
    });
    expect((msgs[0]!.body as Buffer).toString()).toBe('hi');
    expect(msgs[0]!.properties).toMatchObject({ TAGS: 'a' });
    expect(msgs[1]!.properties).toMatchObject({ KEYS: 'k', UNIQ_KEY: 'U' });
  });
});

describe('checkRecordAt (recovery scan)', () => {
  it('tells valid, blank, end and torn apart', () => {
    const rec = encodeMessageRecord(baseInput());
    const file = Buffer.alloc(rec.length * 2 + 64);
    rec.copy(file, 0);
    writeBlankRecord(file, rec.length, 40);
    expect(checkRecordAt(file, 0)).toEqual({ status: RecordStatus.VALID, size: rec.length });
    expect(checkRecordAt(file, rec.length)).toEqual({ status: RecordStatus.BLANK, size: 40 });
    expect(file.readUInt32BE(rec.length + 4)).toBe(BLANK_MAGIC_CODE);
    expect(checkRecordAt(file, rec.length + 40).status).toBe(RecordStatus.END);
    expect(checkRecordAt(file, file.length - 3).status).toBe(RecordStatus.END);

    // torn: the second half of a record is missing (zeroes) → properties length does not add up
    const torn = Buffer.alloc(rec.length);
    rec.copy(torn, 0, 0, 60);
    expect(checkRecordAt(torn, 0).status).toBe(RecordStatus.INVALID);
    // truncated buffer
    expect(checkRecordAt(rec.subarray(0, 50), 0).status).toBe(RecordStatus.INVALID);
    // garbage magic
    const bad = Buffer.from(rec);
    bad.writeUInt32BE(0x12345678, 4);
    expect(checkRecordAt(bad, 0)).toMatchObject({ status: RecordStatus.INVALID, reason: expect.stringMatching(/magic/) });
    // respects an explicit end bound
    expect(checkRecordAt(rec, 0, undefined, rec.length - 1).status).toBe(RecordStatus.INVALID);
  });

  it('detects a CRC mismatch only with verifyCrc', () => {
    const rec = encodeMessageRecord(baseInput());
    rec.writeInt32BE(1, RecordOffset.BODYCRC);
    expect(checkRecordAt(rec, 0).status).toBe(RecordStatus.VALID);
    expect(checkRecordAt(rec, 0, { verifyCrc: true }).status).toBe(RecordStatus.INVALID);
  });
});

describe('patchRecordOffsets', () => {
  it('patches queue/physical offsets and store timestamp for IPv4 and IPv6 born hosts', () => {
    for (const bornHost of [{ host: '10.0.0.5', port: 1 }, { host: '::2', port: 1 }]) {
      const buf = Buffer.concat([Buffer.alloc(3), encodeMessageRecord(baseInput({ bornHost, queueOffset: 0, physicalOffset: 0, storeTimestamp: 0 }))]);
      patchRecordOffsets(buf, 3, 99, 2 ** 40 + 3, 1700000009999);
      const { record } = decodeMessageRecord(buf, 3);
      expect(record.queueOffset).toBe(99);
      expect(record.physicalOffset).toBe(2 ** 40 + 3);
      expect(record.storeTimestamp).toBe(1700000009999);
      expect(record.bornHost).toEqual({ ...bornHost });
    }
    expect(storeTimestampPosition(0)).toBe(RecordOffset.STORETIMESTAMP_V4);
    expect(storeTimestampPosition(MessageSysFlag.BORNHOST_V6)).toBe(68);
  });
});

describe('decodeMessageRecords / readRecordProperties', () => {
  it('decodes a pull body and stops at garbage', () => {
    const a = encodeMessageRecord(baseInput());
    const b = encodeMessageRecord(baseInput({ topic: 'x'.repeat(200), bornHost: { host: '::1', port: 2 } }));
    const recs = decodeMessageRecords(Buffer.concat([a, b, Buffer.from('garbage!garbage!')]));
    expect(recs.map((r) => r.topic.length)).toEqual([1, 200]);
    expect(decodeMessageRecords(Buffer.alloc(0))).toEqual([]);
  });

  it('reads only the properties of a record', () => {
    const a = encodeMessageRecord(baseInput({ properties: { TAGS: 't', KEYS: 'a b' }, topic: 'z'.repeat(130), storeHost: { host: '::3', port: 4 } }));
    const buf = Buffer.concat([Buffer.alloc(7), a]);
    expect(readRecordProperties(buf, 7)).toEqual({ TAGS: 't', KEYS: 'a b' });
  });

  it('computeBodyCrc masks to a positive int32', () => {
    expect(computeBodyCrc(Buffer.from('hi'))).toBe(0x58932aac);
    for (let i = 0; i < 50; i++) expect(computeBodyCrc(Buffer.from(`body-${i}`))).toBeGreaterThanOrEqual(0);
  });
});
