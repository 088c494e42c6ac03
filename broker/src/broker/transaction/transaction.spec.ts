/**
 * Transactional messages through a real broker (real store in a temp dir, RemotingServer on port 0) and
 * raw protocol producers: half parking, END commit/rollback, check-back, discard, restart.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createOffsetMessageId, parseOffsetMessageId } from '../../protocol/message-id';
import { decodeMessageRecord, type MessageRecord } from '../../protocol/message-record';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { makeTempDir, recordsOf, startTestBroker, type TestBroker } from '../broker.test-support';
import { MessageSysFlag } from '../constants';
import type { BrokerSettings } from '../../config';
import { TransactionCheckService } from './transaction-check.service';
import { TRANSACTION_CHECK_GROUP } from './transaction-message.util';
import {
  COMMIT,
  ROLLBACK,
  RawTxProducer,
  UNKNOWN,
  refOfCheck,
  refOfSendReply,
  sleep,
  waitFor,
  type HalfRef,
} from './transaction.test-support';

const HALF = 'RMQ_SYS_TRANS_HALF_TOPIC';
const OP = 'RMQ_SYS_TRANS_OP_HALF_TOPIC';
const MAX_TIME = 'TRANS_CHECK_MAX_TIME_TOPIC';

let broker: TestBroker | undefined;
const producers: RawTxProducer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const p of producers.splice(0)) p.close();
  await broker?.stop();
  broker = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Short timeout; the timer is effectively off (tests run passes with runOnce) unless a test says otherwise. */
const TX_SETTINGS: Partial<BrokerSettings> = { transactionTimeOut: 150, transactionCheckInterval: 3_600_000, transactionCheckMax: 15 };

async function start(overrides: Partial<BrokerSettings> = {}, dir?: string): Promise<TestBroker> {
  broker = await startTestBroker({ ...TX_SETTINGS, ...overrides }, dir ? { dir } : {});
  const r = await broker.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
    topic: 'TX',
    defaultTopic: 'TBW102',
    readQueueNums: 4,
    writeQueueNums: 4,
    perm: 6,
    topicFilterType: 'SINGLE_TAG',
  });
  expect(r.code).toBe(ResponseCode.SUCCESS);
  return broker;
}

async function producer(b: TestBroker, group = 'PG_TX', clientId = `c-${producers.length}`, register = true): Promise<RawTxProducer> {
  const p = new RawTxProducer(b.addr, group, clientId);
  producers.push(p);
  if (register) expect((await p.heartbeat()).code).toBe(ResponseCode.SUCCESS);
  return p;
}

/** Everything stored in one queue (pulled from offset 0). */
async function allRecords(b: TestBroker, topic: string, queueId: number): Promise<MessageRecord[]> {
  const out: MessageRecord[] = [];
  for (let offset = 0, rounds = 0; rounds < 100; rounds++) {
    const r = await b.pull(topic, queueId, offset, { maxMsgNums: 32 });
    if (r.code !== ResponseCode.SUCCESS) break;
    const recs = recordsOf(r);
    if (recs.length === 0) break;
    out.push(...recs);
    offset = recs[recs.length - 1]!.queueOffset + 1;
  }
  return out;
}

/** One check pass, then a moment for the oneway CHECK requests to cross the loopback connection. */
async function checkPass(b: TestBroker): Promise<void> {
  await b.controller.transactionCheckService.runOnce();
  await sleep(80);
}

async function sendHalf(p: RawTxProducer, body: string, uniqKey: string, queueId = 1, properties: Record<string, string> = {}): Promise<HalfRef> {
  const reply = await p.sendHalf('TX', body, { queueId, uniqKey, properties });
  expect(reply.code).toBe(ResponseCode.SUCCESS);
  const id = parseOffsetMessageId(reply.extFields.msgId!);
  return refOfSendReply(reply, uniqKey, id.offset);
}

describe('half messages', () => {
  it('parks a TRAN_MSG send in RMQ_SYS_TRANS_HALF_TOPIC queue 0, invisible on the real topic', async () => {
    const b = await start();
    const p = await producer(b);
    const reply = await p.sendHalf('TX', 'half-body', { queueId: 2, uniqKey: 'UNIQ-1', properties: { TAGS: 'TagA', KEYS: 'k1' } });
    expect(reply.code).toBe(ResponseCode.SUCCESS);
    expect(reply.extFields).toMatchObject({ queueId: '2', queueOffset: '0' });
    const id = parseOffsetMessageId(reply.extFields.msgId!);

    expect(await allRecords(b, 'TX', 2)).toEqual([]);
    const halves = await allRecords(b, HALF, 0);
    expect(halves).toHaveLength(1);
    const half = halves[0]!;
    expect(half.physicalOffset).toBe(id.offset);
    expect(half.queueId).toBe(0);
    expect(half.sysFlag & MessageSysFlag.TRANSACTION_MASK).toBe(MessageSysFlag.TRANSACTION_NOT_TYPE);
    expect(half.properties).toMatchObject({ REAL_TOPIC: 'TX', REAL_QID: '2', TRAN_MSG: 'true', PGROUP: 'PG_TX', UNIQ_KEY: 'UNIQ-1', TAGS: 'TagA' });
    expect(half.properties.WAIT).toBeUndefined();
    expect(half.body.toString()).toBe('half-body');
  });

  it('refuses transactional batches', async () => {
    const b = await start();
    const r = await b.call(RequestCode.SEND_BATCH_MESSAGE, { a: 'PG', b: 'TX', c: 'TBW102', d: 4, e: 0, f: 4, g: Date.now(), h: 0, i: 'TRAN_MSG\u0001true\u0002' }, Buffer.alloc(0));
    expect(r.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    expect(await allRecords(b, HALF, 0)).toEqual([]);
  });
});

describe('END_TRANSACTION', () => {
  it('COMMIT delivers the message exactly once to its real topic/queue with the transactional properties', async () => {
    const b = await start();
    const p = await producer(b);
    const ref = await sendHalf(p, 'order-1', 'UNIQ-C1', 3, { TAGS: 'TagC', KEYS: 'order-1' });
    const first = await p.end(ref, COMMIT);
    expect(first.code).toBe(ResponseCode.SUCCESS);

    const delivered = await allRecords(b, 'TX', 3);
    expect(delivered).toHaveLength(1);
    const msg = delivered[0]!;
    expect(msg.topic).toBe('TX');
    expect(msg.queueId).toBe(3);
    expect(msg.body.toString()).toBe('order-1');
    expect(msg.sysFlag & MessageSysFlag.TRANSACTION_MASK).toBe(MessageSysFlag.TRANSACTION_COMMIT_TYPE);
    expect(msg.preparedTransactionOffset).toBe(ref.commitLogOffset);
    expect(msg.properties).toMatchObject({ TRAN_MSG: 'true', PGROUP: 'PG_TX', UNIQ_KEY: 'UNIQ-C1', TAGS: 'TagC', KEYS: 'order-1' });
    expect(msg.properties.REAL_TOPIC).toBeUndefined();
    expect(msg.properties.REAL_QID).toBeUndefined();
    const halfStored = (await allRecords(b, HALF, 0))[0]!;
    expect(msg.storeTimestamp).toBe(halfStored.storeTimestamp);

    // The op record: same queue as the half, tag d, body = the half queue offset.
    const ops = await allRecords(b, OP, 0);
    expect(ops).toHaveLength(1);
    expect(ops[0]!.properties.TAGS).toBe('d');
    expect(ops[0]!.body.toString()).toBe(String(ref.tranStateTableOffset));

    // Idempotent: a second COMMIT (oneway or not) changes nothing; a ROLLBACK now is refused.
    expect((await p.end(ref, COMMIT)).code).toBe(ResponseCode.SUCCESS);
    await p.endOneway(ref, COMMIT);
    const late = await p.end(ref, ROLLBACK);
    expect(late.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(late.remark).toMatch(/already ended with COMMIT/);
    expect(await allRecords(b, 'TX', 3)).toHaveLength(1);
    expect(await allRecords(b, OP, 0)).toHaveLength(1);
    const stats = b.controller.transactionStats!;
    expect(stats.commits).toBe(1);
    expect(stats.duplicateEnds).toBeGreaterThanOrEqual(2);

    // Nothing left to check.
    await sleep(200);
    await checkPass(b);
    expect(p.checks).toHaveLength(0);
  });

  it('a oneway COMMIT (as the Java client sends it) delivers; concurrent duplicate ENDs deliver once', async () => {
    const b = await start();
    const p = await producer(b);
    const ref = await sendHalf(p, 'oneway', 'UNIQ-OW', 0);
    await Promise.all([p.endOneway(ref, COMMIT), p.endOneway(ref, COMMIT), p.end(ref, COMMIT)]);
    await waitFor(async () => (await allRecords(b, 'TX', 0)).length > 0, 3000, 'commit');
    await sleep(100);
    expect(await allRecords(b, 'TX', 0)).toHaveLength(1);
  });

  it('ROLLBACK never delivers and the half is never checked', async () => {
    const b = await start();
    const p = await producer(b);
    const ref = await sendHalf(p, 'rolled-back', 'UNIQ-R1');
    expect((await p.end(ref, ROLLBACK)).code).toBe(ResponseCode.SUCCESS);
    expect((await p.end(ref, COMMIT)).code).toBe(ResponseCode.SYSTEM_ERROR);
    await sleep(200);
    await checkPass(b);
    await checkPass(b);
    expect(await allRecords(b, 'TX', 1)).toEqual([]);
    expect(p.checks).toHaveLength(0);
    expect(b.controller.transactionStats).toMatchObject({ rollbacks: 1, commits: 0, checksSent: 0 });
  });

  it('refuses a bad END with SYSTEM_ERROR and a remark; nothing is delivered', async () => {
    const b = await start();
    const p = await producer(b);
    const ref = await sendHalf(p, 'guarded', 'UNIQ-B1');
    await sendHalf(p, 'second', 'UNIQ-B2');
    const normal = await b.send('TX', 'plain', {}, { queueId: 1 });
    const normalOffset = parseOffsetMessageId(normal.extFields.msgId!).offset;

    const wrongGroup = await p.end(ref, COMMIT, { group: 'OTHER_PG' });
    expect(wrongGroup.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(wrongGroup.remark).toBe('The producer group wrong');
    const wrongQueueOffset = await p.end({ ...ref, tranStateTableOffset: ref.tranStateTableOffset + 1 }, COMMIT);
    expect(wrongQueueOffset.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(wrongQueueOffset.remark).toBe('The transaction state table offset wrong');
    const wrongPhy = await p.end({ ...ref, commitLogOffset: ref.commitLogOffset + 1 }, COMMIT);
    expect(wrongPhy.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(wrongPhy.remark).toBe('Find prepared transaction message failed');
    // A normal (non-half) record cannot be "committed" again.
    const notHalf = await p.end({ ...ref, commitLogOffset: normalOffset, tranStateTableOffset: 0 }, COMMIT);
    expect(notHalf.code).toBe(ResponseCode.SYSTEM_ERROR);
    const missingField = await b.call(RequestCode.END_TRANSACTION, { producerGroup: 'PG_TX', commitOrRollback: COMMIT });
    expect(missingField.code).toBe(ResponseCode.SYSTEM_ERROR);

    const delivered = await allRecords(b, 'TX', 1);
    expect(delivered.map((m) => m.body.toString())).toEqual(['plain']);
    expect(b.controller.transactionStats).toMatchObject({ commits: 0, rejectedEnds: 4 });
  });

  it('a delayed transactional message is parked in SCHEDULE_TOPIC_XXXX at commit, like RocketMQ', async () => {
    const b = await start({ messageDelayLevel: '1h 2h' });
    const p = await producer(b);
    const ref = await sendHalf(p, 'later', 'UNIQ-D1', 1, { DELAY: '2' });
    expect(await allRecords(b, 'SCHEDULE_TOPIC_XXXX', 1)).toEqual([]);
    expect((await p.end(ref, COMMIT)).code).toBe(ResponseCode.SUCCESS);
    expect(await allRecords(b, 'TX', 1)).toEqual([]);
    const parked = await allRecords(b, 'SCHEDULE_TOPIC_XXXX', 1);
    expect(parked).toHaveLength(1);
    expect(parked[0]!.properties).toMatchObject({ REAL_TOPIC: 'TX', REAL_QID: '1', TRAN_MSG: 'true' });
    expect(parked[0]!.sysFlag & MessageSysFlag.TRANSACTION_MASK).toBe(MessageSysFlag.TRANSACTION_COMMIT_TYPE);
  });

  it('an UNKNOWN END is ignored (left to the check)', async () => {
    const b = await start();
    const p = await producer(b);
    const ref = await sendHalf(p, 'pending', 'UNIQ-U0');
    expect((await p.end(ref, UNKNOWN)).code).toBe(ResponseCode.SUCCESS);
    expect(await allRecords(b, 'TX', 1)).toEqual([]);
    expect(await allRecords(b, OP, 0)).toEqual([]);
  });
});

describe('check-back', () => {
  it('checks an unresolved half with the producer; its END after the check commits exactly once', async () => {
    const b = await start();
    const p = await producer(b);
    const ref = await sendHalf(p, 'unknown-then-commit', 'UNIQ-K1', 2, { TAGS: 'TagK' });
    await p.endOneway(ref, UNKNOWN);

    // Younger than transactionTimeOut: not checked yet.
    await checkPass(b);
    expect(p.checks).toHaveLength(0);
    await sleep(200);
    await checkPass(b);
    expect(p.checks).toHaveLength(1);

    const check = p.checks[0]!;
    expect(check.code).toBe(RequestCode.CHECK_TRANSACTION_STATE);
    expect(check.flag & 0x2).toBe(0x2); // oneway
    // The half was re-appended: the check names the new copy.
    const halves = await allRecords(b, HALF, 0);
    expect(halves).toHaveLength(2);
    const copy = halves[1]!;
    expect(check.extFields).toEqual({
      topic: 'TX',
      tranStateTableOffset: String(copy.queueOffset),
      commitLogOffset: String(copy.physicalOffset),
      msgId: 'UNIQ-K1',
      transactionId: 'UNIQ-K1',
      offsetMsgId: createOffsetMessageId(b.controller.brokerContext.storeHost, copy.physicalOffset),
    });
    expect(copy.properties.TRANSACTION_CHECK_TIMES).toBe('1');
    const body = decodeMessageRecord(check.body!, 0).record;
    expect(body.topic).toBe('TX');
    expect(body.queueId).toBe(2);
    expect(body.queueOffset).toBe(copy.queueOffset);
    expect(body.physicalOffset).toBe(copy.physicalOffset);
    expect(body.body.toString()).toBe('unknown-then-commit');
    expect(body.properties).toMatchObject({ UNIQ_KEY: 'UNIQ-K1', PGROUP: 'PG_TX', TAGS: 'TagK', TRANSACTION_CHECK_TIMES: '1', REAL_TOPIC: 'TX' });
    expect(body.totalSize).toBe(check.body!.length);

    await p.endOneway(refOfCheck(check), COMMIT, { fromCheck: true });
    await waitFor(async () => (await allRecords(b, 'TX', 2)).length === 1, 3000, 'commit after check');
    const msg = (await allRecords(b, 'TX', 2))[0]!;
    expect(msg.preparedTransactionOffset).toBe(copy.physicalOffset);
    expect(msg.properties.TRANSACTION_CHECK_TIMES).toBe('1');

    // The original reference is the same transaction: a late END for it does not deliver again.
    expect((await p.end(ref, COMMIT)).code).toBe(ResponseCode.SUCCESS);
    await checkPass(b);
    await sleep(200);
    await checkPass(b);
    expect(p.checks).toHaveLength(1);
    expect(await allRecords(b, 'TX', 2)).toHaveLength(1);
  });

  it('ROLLBACK after a check never delivers', async () => {
    const b = await start();
    const p = await producer(b);
    await sendHalf(p, 'unknown-then-rollback', 'UNIQ-K2');
    await sleep(200);
    await checkPass(b);
    expect(p.checks).toHaveLength(1);
    await p.endOneway(refOfCheck(p.checks[0]!), ROLLBACK, { fromCheck: true });
    await waitFor(() => b.controller.transactionStats!.rollbacks === 1, 3000, 'rollback');
    await sleep(200);
    await checkPass(b);
    expect(p.checks).toHaveLength(1);
    expect(await allRecords(b, 'TX', 1)).toEqual([]);
  });

  it('runs on its own every transactionCheckInterval', async () => {
    const b = await start({ transactionCheckInterval: 100, transactionTimeOut: 100 });
    const p = await producer(b);
    await sendHalf(p, 'timer', 'UNIQ-T1');
    await waitFor(() => p.checks.length >= 1, 5000, 'a check from the timer');
    expect(p.checks[0]!.extFields.msgId).toBe('UNIQ-T1');
  });

  it('discards to TRANS_CHECK_MAX_TIME_TOPIC after transactionCheckMax checks', async () => {
    const b = await start({ transactionCheckMax: 2 });
    const p = await producer(b);
    await sendHalf(p, 'never-answered', 'UNIQ-M1');
    await sleep(200);
    for (let i = 0; i < 4; i++) await checkPass(b);
    expect(p.checks.map((c) => decodeMessageRecord(c.body!, 0).record.properties.TRANSACTION_CHECK_TIMES)).toEqual(['1', '2']);
    const discarded = await allRecords(b, MAX_TIME, 0);
    expect(discarded).toHaveLength(1);
    expect(discarded[0]!.body.toString()).toBe('never-answered');
    expect(discarded[0]!.properties).toMatchObject({ REAL_TOPIC: 'TX', UNIQ_KEY: 'UNIQ-M1', TRANSACTION_CHECK_TIMES: '2' });
    expect(b.controller.transactionStats).toMatchObject({ checksSent: 2, discards: 1 });
    expect(await allRecords(b, 'TX', 1)).toEqual([]);
  });

  it('asks another live producer of the group when the sender is gone; round-robin over live ones', async () => {
    const b = await start();
    const p1 = await producer(b, 'PG_TX', 'p1');
    const p2 = await producer(b, 'PG_TX', 'p2');
    const other = await producer(b, 'PG_OTHER', 'p3');
    await sendHalf(p1, 'orphan', 'UNIQ-O1');
    p1.close();
    await waitFor(() => b.controller.producerManager.getGroupChannels('PG_TX').length === 1, 3000, 'closed channel removed');
    await sleep(200);
    await checkPass(b);
    expect(p1.checks).toHaveLength(0);
    expect(other.checks).toHaveLength(0);
    expect(p2.checks).toHaveLength(1);
    await p2.endOneway(refOfCheck(p2.checks[0]!), COMMIT, { fromCheck: true });
    await waitFor(async () => (await allRecords(b, 'TX', 1)).length === 1, 3000, 'commit from the other producer');
  });

  it('with no live producer the half waits (no check counted) until one registers', async () => {
    const b = await start({ transactionCheckMax: 1 });
    const sender = await producer(b, 'PG_TX', 'sender', false);
    await sendHalf(sender, 'waiting', 'UNIQ-W1');
    await sleep(200);
    for (let i = 0; i < 3; i++) await checkPass(b);
    expect(b.controller.transactionStats).toMatchObject({ checksSent: 0, checksDeferred: 3, discards: 0 });
    const late = await producer(b, 'PG_TX', 'late');
    await checkPass(b);
    expect(late.checks).toHaveLength(1);
    expect(decodeMessageRecord(late.checks[0]!.body!, 0).record.properties.TRANSACTION_CHECK_TIMES).toBe('1');
  });

  it('honours CHECK_IMMUNITY_TIME_IN_SECONDS without holding back later halves', async () => {
    const b = await start();
    const p = await producer(b);
    const immune = await sendHalf(p, 'immune', 'UNIQ-I1', 1, { CHECK_IMMUNITY_TIME_IN_SECONDS: '3600' });
    await sendHalf(p, 'plain', 'UNIQ-I2');
    await sleep(200);
    await checkPass(b);
    expect(p.checks.map((c) => c.extFields.msgId)).toEqual(['UNIQ-I2']);
    expect((await p.end(refOfCheck(p.checks[0]!), ROLLBACK, { fromCheck: true })).code).toBe(ResponseCode.SUCCESS);
    // The immune half was moved to the end of the queue; the producer's END for the original still works.
    expect((await p.end(immune, COMMIT)).code).toBe(ResponseCode.SUCCESS);
    await checkPass(b);
    await checkPass(b);
    expect(p.checks.map((c) => c.extFields.msgId)).toEqual(['UNIQ-I2']);
    expect((await allRecords(b, 'TX', 1)).map((m) => m.body.toString())).toEqual(['immune']);
  });
});

describe('bounded passes', () => {
  it('reads at most maxHalfReadsPerPass halves per pass; halves named by op records cost no read', async () => {
    const b = await start();
    const p = await producer(b);
    const resolved: HalfRef[] = [];
    for (let i = 0; i < 120; i++) resolved.push(await sendHalf(p, `done-${i}`, `UNIQ-D${i}`, i % 4));
    for (const [i, ref] of resolved.entries()) expect((await p.end(ref, i % 2 === 0 ? COMMIT : ROLLBACK)).code).toBe(ResponseCode.SUCCESS);
    for (let i = 0; i < 5; i++) await sendHalf(p, `open-${i}`, `UNIQ-OPEN${i}`);
    await sleep(200);

    const c = b.controller;
    const check = new TransactionCheckService({
      store: c.store,
      transactions: c.transactionalMessageService,
      producers: c.producerManager,
      offsets: c.consumerOffsetManager,
      settings: c.settings,
      maxHalfReadsPerPass: 2,
    });
    await check.runOnce();
    await sleep(80);
    // 120 resolved halves skipped by their op records, then 2 reads → 2 checks.
    expect(p.checks.map((x) => x.extFields.msgId)).toEqual(['UNIQ-OPEN0', 'UNIQ-OPEN1']);
    expect(c.consumerOffsetManager.queryOffset(TRANSACTION_CHECK_GROUP, HALF, 0)).toBe(122);
    expect(c.consumerOffsetManager.queryOffset(TRANSACTION_CHECK_GROUP, OP, 0)).toBe(120);
    await check.runOnce();
    await sleep(80);
    expect(p.checks).toHaveLength(4);
    await check.shutdown();
    expect(c.transactionStats).toMatchObject({ commits: 60, rollbacks: 60, checksSent: 4 });
  });

  it('with an op backlog larger than one pass reads, ended transactions are still not checked and the op cursor advances', async () => {
    const b = await start();
    const p = await producer(b);
    await sendHalf(p, 'open', 'UNIQ-BK0');
    const r1 = await sendHalf(p, 'c1', 'UNIQ-BK1');
    const r2 = await sendHalf(p, 'c2', 'UNIQ-BK2');
    await p.end(r1, COMMIT);
    await p.end(r2, ROLLBACK);
    await sleep(200);
    const c = b.controller;
    const check = new TransactionCheckService({
      store: c.store,
      transactions: c.transactionalMessageService,
      producers: c.producerManager,
      offsets: c.consumerOffsetManager,
      settings: c.settings,
      maxOpReadPerPass: 1,
    });
    await check.runOnce();
    await sleep(80);
    expect(p.checks.map((x) => x.extFields.msgId)).toEqual(['UNIQ-BK0']);
    expect(c.consumerOffsetManager.queryOffset(TRANSACTION_CHECK_GROUP, OP, 0)).toBe(1);
    await check.runOnce();
    expect(c.consumerOffsetManager.queryOffset(TRANSACTION_CHECK_GROUP, OP, 0)).toBe(2);
    await check.shutdown();
  });
});

describe('restart', () => {
  it('keeps unresolved halves, check progress and ended transactions across a broker restart', async () => {
    const dir = makeTempDir('rocketry-tx-');
    dirs.push(dir);
    let b = await start({}, dir);
    let p = await producer(b);
    const committed = await sendHalf(p, 'committed-before', 'UNIQ-S1');
    expect((await p.end(committed, COMMIT)).code).toBe(ResponseCode.SUCCESS);
    await sendHalf(p, 'pending-across-restart', 'UNIQ-S2');
    p.close();
    producers.length = 0;
    await b.stop(false);
    broker = undefined;

    b = await start({}, dir);
    p = await producer(b);
    // A duplicate END after the restart still does not deliver twice.
    expect((await p.end(committed, COMMIT)).code).toBe(ResponseCode.SUCCESS);
    await sleep(200);
    await checkPass(b);
    expect(p.checks.map((c) => c.extFields.msgId)).toEqual(['UNIQ-S2']);
    await p.endOneway(refOfCheck(p.checks[0]!), COMMIT, { fromCheck: true });
    await waitFor(async () => (await allRecords(b, 'TX', 1)).length === 2, 3000, 'second commit');
    expect((await allRecords(b, 'TX', 1)).map((m) => m.body.toString())).toEqual(['committed-before', 'pending-across-restart']);

    // The cursors were persisted: after another restart nothing is checked again.
    p.close();
    producers.length = 0;
    await b.stop(false);
    broker = undefined;
    b = await start({}, dir);
    p = await producer(b);
    await checkPass(b);
    expect(p.checks).toHaveLength(0);
    expect(await allRecords(b, 'TX', 1)).toHaveLength(2);
  });
});
