import { describe, expect, it } from 'vitest';
import {
  createRequest,
  createResponse,
  decodeCommand,
  DEFAULT_MAX_FRAME_BYTES,
  encodeCommand,
  FrameError,
  FrameSplitter,
  isOneway,
  isResponse,
  SerializeType,
  toExtFields,
  type RemotingCommand,
} from './remoting-command';

const reply: RemotingCommand = {
  code: 0,
  language: 'JAVA',
  version: 401,
  opaque: 42,
  flag: 1,
  extFields: { queueId: '1', msgId: 'M' },
};

/** Hand-derived JSON frame: fastjson key order, string extFields. */
const JSON_HEADER =
  '{"code":0,"extFields":{"msgId":"M","queueId":"1"},"flag":1,"language":"JAVA","opaque":42,"serializeTypeCurrentRPC":"JSON","version":401}';

/** Hand-derived ROCKETMQ binary frame for code 310, opaque 7, remark "hi", ext {a:"PG"}, no body. */
const BINARY_FRAME_HEX = [
  '00000024', // length 36 = 4 + header 32
  '01000020', // serialize type 1, header length 32
  '0136', // code 310
  '00', // language JAVA
  '0191', // version 401
  '00000007', // opaque
  '00000000', // flag
  '00000002', '6869', // remark "hi"
  '00000009', // ext length
  '0001', '61', '00000002', '5047', // "a" = "PG"
].join('');

describe('JSON frames', () => {
  it('encode byte for byte', () => {
    const frame = encodeCommand({ ...reply, body: Buffer.from('xyz') });
    const header = Buffer.from(JSON_HEADER);
    const expected = Buffer.alloc(8 + header.length + 3);
    expected.writeInt32BE(4 + header.length + 3, 0);
    expected.writeInt32BE(header.length, 4);
    header.copy(expected, 8);
    expected.write('xyz', 8 + header.length);
    expect(frame.toString('hex')).toBe(expected.toString('hex'));
  });

  it('leaves out empty extFields and absent remark, keeps remark when set', () => {
    const text = (cmd: RemotingCommand) => {
      const f = encodeCommand(cmd);
      return f.subarray(8, 8 + f.readInt32BE(4)).toString();
    };
    expect(text({ ...reply, extFields: {} })).toBe('{"code":0,"flag":1,"language":"JAVA","opaque":42,"serializeTypeCurrentRPC":"JSON","version":401}');
    expect(text({ ...reply, extFields: {}, remark: 'boom' })).toContain('"opaque":42,"remark":"boom","serializeTypeCurrentRPC"');
  });

  it('decode round-trips and turns ali-ons numbers/booleans into strings', () => {
    const back = decodeCommand(encodeCommand({ ...reply, body: Buffer.from('b') }).subarray(4));
    expect(back).toMatchObject({ ...reply, serializeType: SerializeType.JSON });
    expect(back.body?.toString()).toBe('b');
    const header = Buffer.from('{"code":11,"language":"JAVA","opaque":3,"flag":0,"version":121,"extFields":{"queueId":1,"k":false,"n":null}}');
    const frame = Buffer.alloc(4 + header.length);
    frame.writeInt32BE(header.length, 0);
    header.copy(frame, 4);
    expect(decodeCommand(frame).extFields).toEqual({ queueId: '1', k: 'false' });
    expect(decodeCommand(frame).body).toBeUndefined();
  });

  it('rejects malformed JSON headers', () => {
    const mk = (s: string, type = 0) => {
      const h = Buffer.from(s);
      const f = Buffer.alloc(4 + h.length);
      f.writeUInt32BE(((type & 0xff) << 24) | h.length, 0);
      h.copy(f, 4);
      return f;
    };
    expect(() => decodeCommand(mk('{"code":'))).toThrow(FrameError);
    expect(() => decodeCommand(mk('[1]'))).toThrow(/not a JSON object/);
    expect(() => decodeCommand(mk('{"code":"x"}'))).toThrow(/code/);
    expect(() => decodeCommand(mk('{"code":1,"extFields":{"a":{"b":1}}}'))).toThrow(/not a scalar/);
    expect(() => decodeCommand(mk('{"code":1}', 7))).toThrow(/unknown serialize type/);
    const tooLong = mk('{"code":1}');
    tooLong.writeUInt32BE(500, 0);
    expect(() => decodeCommand(tooLong)).toThrow(/exceeds frame/);
    expect(() => decodeCommand(Buffer.alloc(2))).toThrow(/too short/);
  });
});

describe('header text encoders against a reference', () => {
  /** What fastjson writes, built the slow way: sorted keys through JSON.stringify of real objects. */
  const referenceJson = (cmd: RemotingCommand): string => {
    const ext = Object.fromEntries(Object.keys(cmd.extFields).sort().map((k) => [k, cmd.extFields[k]]));
    return JSON.stringify({
      code: cmd.code,
      ...(Object.keys(ext).length > 0 ? { extFields: ext } : {}),
      flag: cmd.flag,
      language: cmd.language,
      opaque: cmd.opaque,
      ...(cmd.remark !== undefined ? { remark: cmd.remark } : {}),
      serializeTypeCurrentRPC: 'JSON',
      version: cmd.version,
    });
  };
  const awkward = ['', 'plain', 'quote " and \\ backslash', 'ctrl \u0001\u0002\n\t', 'é ü 中文', 'emoji \u{1F600}', 'lone \ud800 surrogate', 'x'.repeat(300)];
  const commands: RemotingCommand[] = awkward.map((v, i) => ({
    code: 300 + i,
    language: 'JAVA',
    version: 401,
    opaque: -i,
    flag: i % 2,
    remark: i % 3 === 0 ? undefined : v,
    // Unsorted on purpose, including names that need escaping.
    extFields: { zeta: v, alpha: String(i), [`k"${i}`]: v, m: 'é' },
  }));

  it('JSON headers equal the reference text for awkward names and values', () => {
    for (const cmd of commands) {
      const frame = encodeCommand(cmd);
      expect(frame.subarray(8, 8 + frame.readInt32BE(4)).toString('utf8')).toBe(Buffer.from(referenceJson(cmd)).toString('utf8'));
      const back = decodeCommand(frame.subarray(4));
      expect(back.extFields).toEqual(JSON.parse(referenceJson(cmd)).extFields);
    }
  });

  it('binary headers round-trip the same commands (UTF-8 lengths, not UTF-16)', () => {
    for (const cmd of commands) {
      const back = decodeCommand(encodeCommand(cmd, SerializeType.ROCKETMQ).subarray(4));
      const nonEmpty = Object.fromEntries(Object.entries(cmd.extFields).filter(([, v]) => v !== ''));
      // Lone surrogates cannot survive UTF-8 in either encoding; they come back as U+FFFD.
      const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('utf8');
      expect(back.extFields).toEqual(Object.fromEntries(Object.entries(nonEmpty).map(([k, v]) => [utf8(k), utf8(v)])));
      expect(back.remark).toBe(cmd.remark ? utf8(cmd.remark) : undefined);
    }
  });
});

describe('ROCKETMQ binary frames', () => {
  const cmd: RemotingCommand = { code: 310, language: 'JAVA', version: 401, opaque: 7, flag: 0, remark: 'hi', extFields: { a: 'PG' } };

  it('encode matches the hand-derived bytes', () => {
    expect(encodeCommand(cmd, SerializeType.ROCKETMQ).toString('hex')).toBe(BINARY_FRAME_HEX);
  });

  it('decode yields the fields; zero-length values are dropped', () => {
    const back = decodeCommand(Buffer.from(BINARY_FRAME_HEX, 'hex').subarray(4));
    expect(back).toEqual({ ...cmd, serializeType: SerializeType.ROCKETMQ });
    const withEmpty = encodeCommand({ ...cmd, remark: undefined, extFields: { a: 'PG', e: '' } }, SerializeType.ROCKETMQ);
    expect(decodeCommand(withEmpty.subarray(4))).toMatchObject({ remark: undefined, extFields: { a: 'PG' } });
  });

  it('rejects truncated or inconsistent binary headers', () => {
    const frame = Buffer.from(BINARY_FRAME_HEX, 'hex').subarray(4);
    const truncated = Buffer.from(frame.subarray(0, 20));
    truncated.writeUInt32BE((1 << 24) | 16, 0);
    expect(() => decodeCommand(truncated)).toThrow(/truncated/);
    const negRemark = Buffer.from(frame);
    negRemark.writeInt32BE(-1, 4 + 13);
    expect(() => decodeCommand(negRemark)).toThrow(/negative remark/);
    const badExt = Buffer.from(frame);
    badExt.writeInt32BE(8, 4 + 19); // ext length shorter than the entry
    expect(() => decodeCommand(badExt)).toThrow(FrameError);
  });
});

describe('FrameSplitter', () => {
  it('reassembles frames split at every byte and several frames per chunk', () => {
    const a = encodeCommand({ ...reply, opaque: 1, body: Buffer.alloc(100, 1) });
    const b = encodeCommand({ ...reply, opaque: 2 });
    const all = Buffer.concat([a, b, a]);
    const splitter = new FrameSplitter();
    const got: number[] = [];
    for (let i = 0; i < all.length; i++) for (const f of splitter.push(all.subarray(i, i + 1))) got.push(decodeCommand(f).opaque);
    expect(got).toEqual([1, 2, 1]);
    expect(splitter.bufferedBytes).toBe(0);
    expect(new FrameSplitter().push(all).map((f) => decodeCommand(f).opaque)).toEqual([1, 2, 1]);
  });

  it('rejects over-limit and impossible lengths before buffering them', () => {
    const big = Buffer.alloc(4);
    big.writeInt32BE(DEFAULT_MAX_FRAME_BYTES + 1, 0);
    expect(() => new FrameSplitter().push(big)).toThrow(FrameError);
    const neg = Buffer.alloc(4);
    neg.writeInt32BE(-5, 0);
    expect(() => new FrameSplitter().push(neg)).toThrow(/invalid frame length/);
    const small = Buffer.alloc(4);
    small.writeInt32BE(3, 0);
    expect(() => new FrameSplitter(1024).push(small)).toThrow(/invalid frame length/);
  });
});

describe('helpers', () => {
  it('createRequest / createResponse / flags / toExtFields', () => {
    const req = createRequest(15, { topic: 'T', queueId: 1, skip: undefined, ok: true }, undefined, true);
    expect(req).toMatchObject({ code: 15, language: 'JAVA', version: 401, flag: 2, extFields: { topic: 'T', queueId: '1', ok: 'true' } });
    expect(isOneway(req)).toBe(true);
    expect(isResponse(req)).toBe(false);
    const res = createResponse(req, 0, undefined, { offset: 5 });
    expect(res).toMatchObject({ opaque: req.opaque, flag: 1, extFields: { offset: '5' } });
    expect(isResponse(res)).toBe(true);
    expect(toExtFields(undefined)).toEqual({});
    expect(createRequest(15).opaque).not.toBe(req.opaque);
  });
});
