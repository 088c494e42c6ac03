import { describe, expect, it } from 'vitest';
import type { MessageExt } from '../client/message';
import { deadLetterInfo, DLQ_PROPERTIES } from './dead-letter';
import { deadLetterProperties, propertySafe } from './dead-letter-sender';

function msg(over: Partial<MessageExt> = {}): MessageExt {
  return {
    topic: 'Orders',
    tags: 'Created',
    keys: ['o-1'],
    body: Buffer.from('{}'),
    properties: { UNIQ_KEY: 'U1', KEYS: 'o-1', TAGS: 'Created', TRAN_MSG: 'true', PGROUP: 'pg', DELAY: '3', MIN_OFFSET: '0', MAX_OFFSET: '9', CLUSTER: 'c', user: 'v' },
    msgId: 'U1',
    offsetMsgId: 'OFFSETID',
    queueId: 1,
    queueOffset: 5,
    commitLogOffset: 100,
    bornTimestamp: 1,
    storeTimestamp: 2,
    bornHost: '127.0.0.1:1',
    storeHost: '127.0.0.1:2',
    reconsumeTimes: 3,
    sysFlag: 0,
    flag: 0,
    bodyCrc: 0,
    preparedTransactionOffset: 0,
    ...over,
  };
}

describe('dead-letter copy', () => {
  it('keeps identity and user properties, drops broker/transaction ones, asks the broker for the DLQ, records the reason', () => {
    const p = deadLetterProperties(msg(), 'boom', 'Inv.onOrder', 1234);
    expect(p).toMatchObject({ UNIQ_KEY: 'U1', KEYS: 'o-1', TAGS: 'Created', user: 'v', RETRY_TOPIC: 'Orders', ORIGIN_MESSAGE_ID: 'OFFSETID' });
    for (const k of ['TRAN_MSG', 'PGROUP', 'DELAY', 'MIN_OFFSET', 'MAX_OFFSET', 'CLUSTER']) expect(p[k]).toBeUndefined();
    // RECONSUME_TIME ≥ MAX_RECONSUME_TIMES is what makes Apache's and our broker store it in %DLQ%.
    expect(Number(p.RECONSUME_TIME)).toBeGreaterThanOrEqual(Number(p.MAX_RECONSUME_TIMES));
    expect(p.RECONSUME_TIME).toBe('4');
    expect(p[DLQ_PROPERTIES.REASON]).toBe('boom');
    expect(p[DLQ_PROPERTIES.LISTENER]).toBe('Inv.onOrder');
    expect(p[DLQ_PROPERTIES.DEAD_AT]).toBe('1234');
  });

  it('a retried message keeps its first RETRY_TOPIC and ORIGIN_MESSAGE_ID', () => {
    const p = deadLetterProperties(msg({ properties: { RETRY_TOPIC: 'First', ORIGIN_MESSAGE_ID: 'FIRSTID' } }), 'x', 'L', 1);
    expect(p).toMatchObject({ RETRY_TOPIC: 'First', ORIGIN_MESSAGE_ID: 'FIRSTID', UNIQ_KEY: 'U1' });
  });

  it('reasons lose the wire separators and are cut to 1024 characters', () => {
    expect(propertySafe('a\u0001b\u0002c')).toBe('a b c');
    const long = propertySafe('x'.repeat(5_000));
    expect(long).toHaveLength(1_024);
    expect(long.endsWith('…')).toBe(true);
  });

  it('deadLetterInfo reads them back', () => {
    const props = deadLetterProperties(msg(), 'boom', 'Inv.onOrder', 1234);
    expect(deadLetterInfo(msg({ properties: props, reconsumeTimes: 4 }))).toEqual({
      originalTopic: 'Orders',
      originMsgId: 'OFFSETID',
      reason: 'boom',
      listener: 'Inv.onOrder',
      deadAt: 1234,
      reconsumeTimes: 4,
    });
  });
});
