import { describe, expect, it } from 'vitest';
import { RequestCode } from '../request-code';
import { decodeHeader, defineHeader, encodeHeader, HeaderError, opt, req } from './header-schema';
import {
  decodeSendRequestHeader,
  EndTransactionRequestHeader,
  PullMessageResponseHeader,
  QueryMessageRequestHeader,
  RegisterBrokerRequestHeader,
  SendMessageRequestHeader,
  SendMessageRequestHeaderV2,
  SendMessageResponseHeader,
  sendHeaderFromV2,
  sendHeaderToV2,
} from './index';

const Demo = defineHeader({ name: req.string, count: req.int, big: opt.long, on: opt.boolean, ratio: opt.double });

describe('decodeHeader / encodeHeader', () => {
  it('parses typed values from strings and ignores unknown extFields', () => {
    const h = Demo.decode({ name: 'x', count: '-5', big: '9007199254740993', on: 'TRUE', ratio: '0.5', bname: 'b', AccessKey: 'k' });
    expect(h).toEqual({ name: 'x', count: -5, big: 2 ** 53, on: true, ratio: 0.5 }); // nearest double
    const typed: { name: string; count: number; big?: number; on?: boolean } = h;
    expect(typed.count).toBe(-5);
  });

  it('follows Boolean.parseBoolean: anything but "true" is false', () => {
    expect(Demo.decode({ name: 'x', count: '1', on: 'yes' }).on).toBe(false);
    expect(Demo.decode({ name: 'x', count: '1', on: 'false' }).on).toBe(false);
  });

  it('throws HeaderError naming a missing required field', () => {
    try {
      Demo.decode({ name: 'x' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HeaderError);
      expect((err as HeaderError).field).toBe('count');
      expect((err as HeaderError).message).toBe('the custom field <count> is null');
    }
    expect(() => decodeHeader(Demo.schema, undefined)).toThrow(HeaderError);
  });

  it('throws HeaderError naming the field and the bad value', () => {
    for (const [field, value] of [
      ['count', 'abc'],
      ['count', '1.5'],
      ['count', ' 1'],
      ['count', '2147483648'],
      ['count', ''],
      ['big', '12x'],
      ['big', '99999999999999999999'],
      ['ratio', 'nope'],
    ] as const) {
      const ext: Record<string, string> = { name: 'x', count: '1', [field]: value };
      try {
        Demo.decode(ext);
        expect.unreachable(`${field}=${value} should fail`);
      } catch (err) {
        expect(err).toBeInstanceOf(HeaderError);
        expect((err as HeaderError).field).toBe(field);
        expect((err as HeaderError).value).toBe(value);
        expect((err as HeaderError).message).toContain(field);
      }
    }
  });

  it('accepts int32 and int64 bounds', () => {
    expect(Demo.decode({ name: 'x', count: '-2147483648' }).count).toBe(-2147483648);
    expect(Demo.decode({ name: 'x', count: '2147483647', big: '-9223372036854775808' }).big).toBe(-9223372036854775808);
  });

  it('encodes strings only and leaves out undefined and keys outside the schema', () => {
    const ext = encodeHeader(Demo.schema, { name: 'x', count: 3, on: false, big: undefined, ...{ extra: 1 } });
    expect(ext).toEqual({ name: 'x', count: '3', on: 'false' });
    expect(Demo.decode(ext)).toEqual({ name: 'x', count: 3, on: false });
  });
});

describe('send headers', () => {
  const v1: SendMessageRequestHeader = {
    producerGroup: 'PG',
    topic: 'T',
    defaultTopic: 'TBW102',
    defaultTopicQueueNums: 4,
    queueId: -1,
    sysFlag: 0,
    bornTimestamp: 1700000000000,
    flag: 0,
    properties: 'TAGS\u0001a\u0002',
    reconsumeTimes: 0,
    unitMode: false,
    maxReconsumeTimes: 16,
    batch: true,
    bname: 'broker-a',
  };

  it('converts V1 ↔ V2 both ways, a..n', () => {
    const v2 = sendHeaderToV2(v1);
    expect(SendMessageRequestHeaderV2.encode(v2)).toEqual({
      a: 'PG',
      b: 'T',
      c: 'TBW102',
      d: '4',
      e: '-1',
      f: '0',
      g: '1700000000000',
      h: '0',
      i: 'TAGS\u0001a\u0002',
      j: '0',
      k: 'false',
      l: '16',
      m: 'true',
      n: 'broker-a',
    });
    expect(sendHeaderFromV2(v2)).toEqual(v1);
  });

  it('decodeSendRequestHeader picks the key set by request code', () => {
    const longExt = SendMessageRequestHeader.encode(v1);
    const shortExt = SendMessageRequestHeaderV2.encode(sendHeaderToV2(v1));
    expect(decodeSendRequestHeader(RequestCode.SEND_MESSAGE, longExt)).toEqual(v1);
    expect(decodeSendRequestHeader(RequestCode.SEND_MESSAGE_V2, shortExt)).toEqual(v1);
    expect(decodeSendRequestHeader(RequestCode.SEND_BATCH_MESSAGE, shortExt)).toEqual(v1);
    // V2 requires a..h
    const { h: _dropped, ...missingH } = shortExt;
    expect(() => decodeSendRequestHeader(RequestCode.SEND_MESSAGE_V2, missingH)).toThrow(/<h>/);
  });

  it('send reply header carries MSG_REGION / TRACE_ON as strings', () => {
    expect(SendMessageResponseHeader.encode({ msgId: 'A,B', queueId: 2, queueOffset: 10, MSG_REGION: 'DefaultRegion', TRACE_ON: 'true' })).toEqual({
      msgId: 'A,B',
      queueId: '2',
      queueOffset: '10',
      MSG_REGION: 'DefaultRegion',
      TRACE_ON: 'true',
    });
  });
});

describe('other headers', () => {
  it('pull reply requires all four offsets', () => {
    const ext = PullMessageResponseHeader.encode({ suggestWhichBrokerId: 0, nextBeginOffset: 5, minOffset: 0, maxOffset: 5 });
    expect(ext).toEqual({ suggestWhichBrokerId: '0', nextBeginOffset: '5', minOffset: '0', maxOffset: '5' });
    const { maxOffset: _m, ...partial } = ext;
    expect(() => PullMessageResponseHeader.decode(partial)).toThrow(/maxOffset/);
  });

  it('query message reads the _UNIQUE_KEY_QUERY flag', () => {
    const h = QueryMessageRequestHeader.decode({ topic: 'T', key: 'k', maxNum: '32', beginTimestamp: '0', endTimestamp: '9', _UNIQUE_KEY_QUERY: 'true' });
    expect(h._UNIQUE_KEY_QUERY).toBe(true);
  });

  it('register broker and end transaction headers', () => {
    expect(
      RegisterBrokerRequestHeader.decode({
        brokerName: 'b',
        brokerAddr: '1.2.3.4:10911',
        clusterName: 'C',
        haServerAddr: '1.2.3.4:10912',
        brokerId: '0',
        compressed: 'true',
        bodyCrc32: '-12345',
      }),
    ).toEqual({ brokerName: 'b', brokerAddr: '1.2.3.4:10911', clusterName: 'C', haServerAddr: '1.2.3.4:10912', brokerId: 0, compressed: true, bodyCrc32: -12345 });
    expect(() => EndTransactionRequestHeader.decode({ producerGroup: 'P', tranStateTableOffset: '1', commitLogOffset: '2', commitOrRollback: '8' })).toThrow(/<msgId>/);
  });
});
