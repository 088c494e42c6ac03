import { describe, expect, it } from 'vitest';
import type { MessageExt } from '../client/message';
import { CONTENT_TYPE_PROPERTY, DefaultMessageConverter, MessageConversionError } from './message-converter';

function received(body: Buffer | string, contentType?: string): MessageExt {
  return {
    topic: 'T',
    tags: undefined,
    keys: [],
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    properties: contentType ? { [CONTENT_TYPE_PROPERTY]: contentType } : {},
    msgId: 'id',
    offsetMsgId: 'off',
    queueId: 0,
    queueOffset: 0,
    commitLogOffset: 0,
    bornTimestamp: 0,
    storeTimestamp: 0,
    bornHost: '',
    storeHost: '',
    reconsumeTimes: 0,
    sysFlag: 0,
    flag: 0,
    bodyCrc: 0,
    preparedTransactionOffset: 0,
  };
}

describe('DefaultMessageConverter', () => {
  const c = new DefaultMessageConverter();

  it('objects → JSON, strings as-is, Buffers raw, each with a content type', () => {
    expect(c.toMessageBody({ id: 1, n: 2n })).toEqual({ body: '{"id":1,"n":"2"}', contentType: 'application/json' });
    expect(c.toMessageBody(42)).toEqual({ body: '42', contentType: 'application/json' });
    expect(c.toMessageBody('hello')).toEqual({ body: 'hello', contentType: 'text/plain' });
    const buf = Buffer.from([1, 2, 3]);
    expect(c.toMessageBody(buf)).toEqual({ body: buf, contentType: 'application/octet-stream' });
    expect(c.toMessageBody(new Uint8Array([9]))).toEqual({ body: Buffer.from([9]), contentType: 'application/octet-stream' });
    expect(() => c.toMessageBody(undefined)).toThrow(MessageConversionError);
  });

  it('auto: follows the content type; without one, JSON objects/arrays are parsed and the rest is text', () => {
    expect(c.fromMessage(received('{"a":1}', 'application/json'), 'auto')).toEqual({ a: 1 });
    expect(c.fromMessage(received('{"a":1}', 'text/plain'), 'auto')).toBe('{"a":1}');
    expect(c.fromMessage(received(Buffer.from([0xff]), 'application/octet-stream'), 'auto')).toEqual(Buffer.from([0xff]));
    expect(c.fromMessage(received('[1,2]'), 'auto')).toEqual([1, 2]);
    expect(c.fromMessage(received('{not json'), 'auto')).toBe('{not json');
    expect(c.fromMessage(received('plain'), 'auto')).toBe('plain');
  });

  it('explicit payload types; a non-JSON body with json fails the consume', () => {
    expect(c.fromMessage(received('7'), 'json')).toBe(7);
    expect(c.fromMessage(received('{"a":1}', 'application/json'), 'string')).toBe('{"a":1}');
    expect(c.fromMessage(received('x'), 'buffer')).toEqual(Buffer.from('x'));
    expect(() => c.fromMessage(received('nope'), 'json')).toThrow(/body is not valid JSON/);
  });
});
