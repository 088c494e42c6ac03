import { describe, expect, it } from 'vitest';
import { BatchBodyError, decodeBatchBody, encodeBatchBody } from './batch-body';

/** Hand-derived: two entries as Java MessageDecoder.encodeMessages writes them. */
const FIXTURE_HEX = [
  '00000024', // TOTALSIZE 36 = 22 + body 2 + props 12
  '00000000', // MAGICCODE 0
  '00000000', // BODYCRC 0
  '00000007', // FLAG 7
  '00000002', '6869', // BODY "hi"
  '000c', '554e49515f4b45590141310 2'.replace(/ /g, ''), // "UNIQ_KEY\x01A1\x02"
  '00000016', // TOTALSIZE 22 (empty body, no properties)
  '00000000', '00000000', '00000000',
  '00000000',
  '0000',
].join('');

describe('batch body', () => {
  it('decodes the hand-derived fixture', () => {
    const entries = decodeBatchBody(Buffer.from(FIXTURE_HEX, 'hex'));
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ flag: 7, properties: { UNIQ_KEY: 'A1' }, propertiesText: 'UNIQ_KEY\u0001A1\u0002' });
    expect(entries[0]!.body.toString()).toBe('hi');
    expect(entries[1]).toMatchObject({ flag: 0, properties: {}, propertiesText: '' });
    expect(entries[1]!.body.length).toBe(0);
  });

  it('encodes byte for byte', () => {
    const buf = encodeBatchBody([
      { flag: 7, body: Buffer.from('hi'), properties: { UNIQ_KEY: 'A1' } },
      { flag: 0, body: Buffer.alloc(0), properties: {} },
    ]);
    expect(buf.toString('hex')).toBe(FIXTURE_HEX);
  });

  it('round-trips many entries', () => {
    const src = Array.from({ length: 50 }, (_, i) => ({ flag: i, body: Buffer.from(`m${i}`), properties: { KEYS: `k${i}`, TAGS: 't' } }));
    const back = decodeBatchBody(encodeBatchBody(src));
    expect(back.map((e) => [e.flag, e.body.toString(), e.properties])).toEqual(src.map((e) => [e.flag, e.body.toString(), e.properties]));
  });

  it('rejects bodies whose lengths do not add up', () => {
    const good = Buffer.from(FIXTURE_HEX, 'hex');
    expect(() => decodeBatchBody(good.subarray(0, good.length - 1))).toThrow(BatchBodyError);
    const badSize = Buffer.from(good);
    badSize.writeInt32BE(1000, 0);
    expect(() => decodeBatchBody(badSize)).toThrow(/bad batch entry size/);
    const badBody = Buffer.from(good);
    badBody.writeInt32BE(-1, 16);
    expect(() => decodeBatchBody(badBody)).toThrow(/bad body length/);
    const badProps = Buffer.from(good);
    badProps.writeInt16BE(11, 22);
    expect(() => decodeBatchBody(badProps)).toThrow(/do not add up/);
    expect(() => decodeBatchBody(good, { maxEntries: 1 })).toThrow(/more than 1/);
    expect(decodeBatchBody(Buffer.alloc(0))).toEqual([]);
  });
});
