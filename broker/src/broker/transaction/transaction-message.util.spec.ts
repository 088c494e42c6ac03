import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../protocol/message-record';
import type { PutMessageRequest } from '../../store/types';
import { EndedTransactionRegistry } from './ended-transaction.registry';
import {
  checkTimesOf,
  immunityMsOf,
  isTransactionalSend,
  originOffsetOf,
  parseOpBody,
  toCommittedMessage,
  toHalfMessage,
  toOpMessage,
} from './transaction-message.util';

const host = { host: '127.0.0.1', port: 10911 };

function put(over: Partial<PutMessageRequest> = {}): PutMessageRequest {
  return {
    topic: 'T',
    queueId: 3,
    flag: 7,
    body: Buffer.from('b'),
    properties: { TRAN_MSG: 'true', PGROUP: 'PG', UNIQ_KEY: 'U' },
    sysFlag: 0x4 | 0x2,
    bornTimestamp: 1,
    bornHost: host,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    ...over,
  };
}

function record(over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    totalSize: 0,
    magic: 0,
    bodyCrc: 0,
    queueId: 0,
    flag: 7,
    queueOffset: 5,
    physicalOffset: 999,
    sysFlag: 0x2,
    bornTimestamp: 1,
    bornHost: host,
    storeTimestamp: 42,
    storeHost: host,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from('b'),
    topic: 'RMQ_SYS_TRANS_HALF_TOPIC',
    properties: { REAL_TOPIC: 'T', REAL_QID: '3', TRAN_MSG: 'true', PGROUP: 'PG', TRAN_PREPARED_QUEUE_OFFSET: '2' },
    ...over,
  };
}

describe('transaction message transforms', () => {
  it('detects transactional sends like Java (Boolean.parseBoolean) or by the PREPARED flag', () => {
    expect(isTransactionalSend({ TRAN_MSG: 'TRUE' }, 0)).toBe(true);
    expect(isTransactionalSend({}, 0x4)).toBe(true);
    expect(isTransactionalSend({ TRAN_MSG: 'false' }, 0x8)).toBe(false);
  });

  it('builds the half: REAL_*, NOT type, half topic queue 0, PGROUP from the header when missing', () => {
    const half = toHalfMessage(put({ properties: { TRAN_MSG: 'true' } }), 'HeaderPG');
    expect(half).toMatchObject({ topic: 'RMQ_SYS_TRANS_HALF_TOPIC', queueId: 0, sysFlag: 0x2 });
    expect(half.properties).toEqual({ TRAN_MSG: 'true', REAL_TOPIC: 'T', REAL_QID: '3', PGROUP: 'HeaderPG' });
  });

  it('builds the committed message: COMMIT type, preparedTransactionOffset, half store time, REAL_* removed', () => {
    const msg = toCommittedMessage(record())!;
    expect(msg).toMatchObject({ topic: 'T', queueId: 3, sysFlag: 0x2 | 0x8, preparedTransactionOffset: 999, storeTimestamp: 42, flag: 7 });
    expect(msg.properties).toEqual({ TRAN_MSG: 'true', PGROUP: 'PG' });
    expect(toCommittedMessage(record({ properties: { REAL_TOPIC: 'T', REAL_QID: 'x' } }))).toBeUndefined();
  });

  it('writes and reads op bodies', () => {
    const op = toOpMessage(0, [5, 6], 2, 'COMMIT', host, 10);
    expect(op).toMatchObject({ topic: 'RMQ_SYS_TRANS_OP_HALF_TOPIC', queueId: 0, sysFlag: 0 });
    expect(op.properties).toMatchObject({ TAGS: 'd', TRAN_PREPARED_QUEUE_OFFSET: '2', TRAN_END: 'COMMIT' });
    expect(parseOpBody(op.body)).toEqual([5, 6]);
    expect(parseOpBody(Buffer.from('7,x,-1, 8'))).toEqual([7, 8]);
  });

  it('reads lineage, check times and immunity', () => {
    expect(originOffsetOf(record())).toBe(2);
    expect(originOffsetOf(record({ properties: {} }))).toBe(5);
    expect(checkTimesOf(record({ properties: { TRANSACTION_CHECK_TIMES: '3' } }))).toBe(3);
    expect(checkTimesOf(record({ properties: { TRANSACTION_CHECK_TIMES: 'x' } }))).toBe(0);
    expect(immunityMsOf(record({ properties: { CHECK_IMMUNITY_TIME_IN_SECONDS: '60' } }))).toBe(60_000);
    expect(immunityMsOf(record({ properties: {} }))).toBeUndefined();
  });
});

describe('EndedTransactionRegistry', () => {
  it('forgets the oldest entries beyond its capacity and tracks in-flight ENDs', async () => {
    const reg = new EndedTransactionRegistry(2);
    reg.markEnded('a', 'COMMIT');
    reg.markEnded('b', 'ROLLBACK');
    reg.markEnded('c', 'COMMIT');
    expect(reg.endedOutcome('a')).toBeUndefined();
    expect(reg.endedOutcome('b')).toBe('ROLLBACK');
    expect(reg.size).toBe(2);
    const release = reg.begin('d');
    const pending = reg.pendingEnd('d');
    expect(pending).toBeDefined();
    release();
    await pending;
    expect(reg.pendingEnd('d')).toBeUndefined();
  });
});
