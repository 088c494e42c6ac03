import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../protocol/batch-body';
import { parseOffsetMessageId } from '../../protocol/message-id';
import { encodeProperties } from '../../protocol/message-record';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { recordsOf, startTestBroker, type TestBroker } from '../broker.test-support';
import { MessageSysFlag } from '../constants';

let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

async function createTopic(b: TestBroker, topic: string, queues = 4, extra: Record<string, string | number> = {}): Promise<void> {
  const r = await b.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
    topic,
    defaultTopic: 'TBW102',
    readQueueNums: queues,
    writeQueueNums: queues,
    perm: 6,
    topicFilterType: 'SINGLE_TAG',
    ...extra,
  });
  expect(r.code).toBe(ResponseCode.SUCCESS);
}

describe('SEND_MESSAGE_V2 (310)', () => {
  it('stores the message and replies with msgId/queueId/queueOffset and the region/trace fields', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'T1');
    const r1 = await broker.send('T1', 'hello', { TAGS: 'TagA', KEYS: 'k1', WAIT: 'true' }, { queueId: 2 });
    expect(r1.code).toBe(ResponseCode.SUCCESS);
    expect(r1.extFields).toMatchObject({ queueId: '2', queueOffset: '0', MSG_REGION: 'DefaultRegion', TRACE_ON: 'true' });
    const id = parseOffsetMessageId(r1.extFields.msgId!);
    expect(id.address.port).toBe(broker.controller.listenPort);
    const r2 = await broker.send('T1', 'world', {}, { queueId: 2 });
    expect(r2.extFields.queueOffset).toBe('1');

    const pulled = await broker.pull('T1', 2, 0);
    expect(pulled.code).toBe(ResponseCode.SUCCESS);
    const recs = recordsOf(pulled);
    expect(recs.map((r) => r.body.toString())).toEqual(['hello', 'world']);
    expect(recs[0]!.properties).toMatchObject({ TAGS: 'TagA', KEYS: 'k1', CLUSTER: 'DefaultCluster' });
    expect(recs[0]!.properties.WAIT).toBeUndefined();
    expect(recs[0]!.bornHost.host).toBe('127.0.0.1');
    expect(recs[0]!.storeHost).toEqual({ host: '127.0.0.1', port: broker.controller.listenPort });
    expect(recs[0]!.physicalOffset).toBe(id.offset);
  });

  it('picks a queue for a negative queueId and rejects one out of range', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'T2', 2);
    const r = await broker.send('T2', 'x', {}, { queueId: -1 });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(['0', '1']).toContain(r.extFields.queueId);
    const bad = await broker.send('T2', 'x', {}, { queueId: 2 });
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(bad.remark).toMatch(/queueId\[2\] is illegal/);
  });

  it('sets MULTI_TAGS on topics with a MULTI_TAG filter', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'TM', 1, { topicFilterType: 'MULTI_TAG' });
    expect((await broker.send('TM', 'x')).code).toBe(ResponseCode.SUCCESS);
    const [rec] = recordsOf(await broker.pull('TM', 0, 0));
    expect(rec!.sysFlag & MessageSysFlag.MULTI_TAGS).toBe(MessageSysFlag.MULTI_TAGS);
  });
});

describe('send reply transactionId (compat matrix: Apache RocketMQ 5.3.3 answers it, test/compat)', () => {
  // The Java producer copies the reply's transactionId into `__transactionId__` and END_TRANSACTION;
  // without it the check-back body and END_TRANSACTION from a Java client differ from Apache's.
  it('echoes the UNIQ_KEY of a single send and of a batch carrier; absent without UNIQ_KEY (ali-ons)', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'TX1', 1);
    const single = await broker.send('TX1', 'x', { UNIQ_KEY: 'FD000000000000000000000000000002AB', KEYS: 'k' }, { queueId: 0 });
    expect(single.extFields.transactionId).toBe('FD000000000000000000000000000002AB');
    const noUniq = await broker.send('TX1', 'y', { KEYS: 'k' }, { queueId: 0 });
    expect(noUniq.code).toBe(ResponseCode.SUCCESS);
    expect(noUniq.extFields.transactionId).toBeUndefined();
    const batch = await broker.call(
      RequestCode.SEND_BATCH_MESSAGE,
      { a: 'PG', b: 'TX1', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: encodeProperties({ UNIQ_KEY: 'CARRIER', WAIT: 'true' }), m: true },
      encodeBatchBody([{ flag: 0, body: Buffer.from('b0'), properties: { UNIQ_KEY: 'U0' } }]),
    );
    expect(batch.code).toBe(ResponseCode.SUCCESS);
    expect(batch.extFields.transactionId).toBe('CARRIER');
  });
});

describe('SEND_MESSAGE (10, full names)', () => {
  it('stores and reads back', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'T10', 1);
    const r = await broker.call(
      RequestCode.SEND_MESSAGE,
      {
        producerGroup: 'PG', topic: 'T10', defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 0, sysFlag: 0,
        bornTimestamp: Date.now(), flag: 7, properties: encodeProperties({ TAGS: 'go' }), reconsumeTimes: 0, unitMode: false,
        batch: false, maxReconsumeTimes: 16, bname: 'broker-a',
      },
      Buffer.from('v1-body'),
    );
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const [rec] = recordsOf(await broker.pull('T10', 0, 0));
    expect(rec).toMatchObject({ flag: 7, topic: 'T10' });
    expect(rec!.body.toString()).toBe('v1-body');
  });

  it('answers SYSTEM_ERROR when a required header field is missing', async () => {
    broker = await startTestBroker();
    const r = await broker.call(RequestCode.SEND_MESSAGE, { producerGroup: 'PG', topic: 'T' }, Buffer.from('x'));
    expect(r.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(r.remark).toMatch(/defaultTopic/);
  });
});

describe('SEND_BATCH_MESSAGE (320)', () => {
  it('stores each inner message with consecutive offsets and joins the offset ids', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'TB', 1);
    await broker.send('TB', 'first');
    const body = encodeBatchBody([
      { flag: 0, body: Buffer.from('b0'), properties: { UNIQ_KEY: 'U0', KEYS: 'kb0' } },
      { flag: 1, body: Buffer.from('b1'), properties: { UNIQ_KEY: 'U1' } },
      { flag: 2, body: Buffer.from('b2'), properties: { UNIQ_KEY: 'U2', TAGS: 'x' } },
    ]);
    const r = await broker.call(
      RequestCode.SEND_BATCH_MESSAGE,
      { a: 'PG', b: 'TB', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: encodeProperties({ WAIT: 'true' }), m: true },
      body,
    );
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(r.extFields.queueOffset).toBe('1');
    const ids = r.extFields.msgId!.split(',');
    expect(ids).toHaveLength(3);
    const recs = recordsOf(await broker.pull('TB', 0, 1));
    expect(recs.map((x) => [x.body.toString(), x.queueOffset, x.flag, x.properties.UNIQ_KEY])).toEqual([
      ['b0', 1, 0, 'U0'],
      ['b1', 2, 1, 'U1'],
      ['b2', 3, 2, 'U2'],
    ]);
    expect(recs.map((x) => x.physicalOffset)).toEqual(ids.map((id) => parseOffsetMessageId(id).offset));
    expect(recs[0]!.properties).toMatchObject({ CLUSTER: 'DefaultCluster' });
    expect(recs[0]!.properties.WAIT).toBeUndefined();
  });

  it('rejects a malformed batch body with MESSAGE_ILLEGAL', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'TB', 1);
    const r = await broker.call(
      RequestCode.SEND_BATCH_MESSAGE,
      { a: 'PG', b: 'TB', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0 },
      Buffer.from([0, 0, 0, 99, 1, 2, 3]),
    );
    expect(r.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
  });
});

describe('send checks', () => {
  it('TOPIC_NOT_EXIST when the template cannot auto-create', async () => {
    broker = await startTestBroker({ autoCreateTopicEnable: false });
    const r = await broker.send('Missing', 'x');
    expect(r.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    expect(r.remark).toMatch(/Missing/);
    expect(r.extFields.MSG_REGION).toBe('DefaultRegion');
    const r2 = await broker.send('Missing', 'x', {}, { defaultTopic: 'SELF_TEST_TOPIC' });
    expect(r2.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });

  it('auto-creates from TBW102 with min(requested, template) queues and perm RW', async () => {
    broker = await startTestBroker({ defaultTopicQueueNums: 4 });
    const changed: string[] = [];
    broker.controller.topicConfigManager.onChange((c) => changed.push(...c.map((t) => t.topicName)));
    const r = await broker.send('AutoTopic', 'x', {}, { defaultTopicQueueNums: 8, queueId: 3 });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(broker.controller.topicConfigManager.selectTopicConfig('AutoTopic')).toMatchObject({ readQueueNums: 4, writeQueueNums: 4, perm: 6 });
    expect(changed).toEqual(['AutoTopic']);
  });

  it('MESSAGE_ILLEGAL for a body over maxMessageSize, with a clear remark', async () => {
    broker = await startTestBroker({ maxMessageSize: 1024 });
    await createTopic(broker, 'Big', 1);
    const r = await broker.send('Big', Buffer.alloc(1025));
    expect(r.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    expect(r.remark).toMatch(/1025 bytes is over the limit maxMessageSize 1024/);
    expect((await broker.send('Big', Buffer.alloc(1024))).code).toBe(ResponseCode.SUCCESS);
  });

  it('rejects invalid and system topic names', async () => {
    broker = await startTestBroker();
    expect((await broker.send('bad topic', 'x')).code).toBe(ResponseCode.SYSTEM_ERROR);
    expect((await broker.send('a'.repeat(128), 'x')).code).toBe(ResponseCode.SYSTEM_ERROR);
    const sys = await broker.send('SCHEDULE_TOPIC_XXXX', 'x');
    expect(sys.code).toBe(ResponseCode.NO_PERMISSION);
    expect(sys.remark).toMatch(/forbidden/);
  });

  it('refuses transactional half messages when rejectTransactionMessage is set', async () => {
    broker = await startTestBroker({ rejectTransactionMessage: true });
    await createTopic(broker, 'TX', 1);
    const r = await broker.send('TX', 'x', { TRAN_MSG: 'true', PGROUP: 'PG' });
    expect(r.code).toBe(ResponseCode.NO_PERMISSION);
    expect(r.remark).toMatch(/transaction/);
  });

  it('refuses sends when the broker is not writable', async () => {
    broker = await startTestBroker();
    await createTopic(broker, 'T', 1);
    broker.controller.brokerPermission = 4;
    expect((await broker.send('T', 'x')).code).toBe(ResponseCode.NO_PERMISSION);
  });
});

describe('delay and retry routing', () => {
  it('parks a producer-set DELAY in SCHEDULE_TOPIC_XXXX queue level-1 with REAL_TOPIC/REAL_QID', async () => {
    broker = await startTestBroker({ messageDelayLevel: '1h 2h 3h' });
    await createTopic(broker, 'TD', 2);
    const r = await broker.send('TD', 'later', { DELAY: '2' }, { queueId: 1 });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect((await broker.pull('TD', 1, 0)).code).toBe(ResponseCode.PULL_NOT_FOUND);
    const [parked] = recordsOf(await broker.pull('SCHEDULE_TOPIC_XXXX', 1, 0));
    expect(parked!.topic).toBe('SCHEDULE_TOPIC_XXXX');
    expect(parked!.properties).toMatchObject({ REAL_TOPIC: 'TD', REAL_QID: '1', DELAY: '2' });
    // Levels above the table are lowered to the highest.
    await broker.send('TD', 'way later', { DELAY: '99' }, { queueId: 0 });
    const [top] = recordsOf(await broker.pull('SCHEDULE_TOPIC_XXXX', 2, 0));
    expect(top!.properties).toMatchObject({ REAL_TOPIC: 'TD', REAL_QID: '0', DELAY: '3' });
  });

  it('delivers a parked message to its real topic when due', async () => {
    broker = await startTestBroker({ messageDelayLevel: '1s 2s' });
    await createTopic(broker, 'TD2', 1);
    await broker.send('TD2', 'soon', { DELAY: '1' });
    const deadline = Date.now() + 8000;
    let got = 0;
    while (Date.now() < deadline && got === 0) {
      got = recordsOf(await broker.pull('TD2', 0, 0)).length;
      if (got === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(got).toBe(1);
  });

  it('redirects a %RETRY% send past maxReconsumeTimes to %DLQ% and clears the delay', async () => {
    broker = await startTestBroker();
    const below = await broker.send('%RETRY%G1', 'retry', {}, { reconsumeTimes: 2, maxReconsumeTimes: 3, version: 121 });
    expect(below.code).toBe(ResponseCode.SUCCESS);
    expect(recordsOf(await broker.pull('%RETRY%G1', 0, 0))).toHaveLength(1);
    const r = await broker.send('%RETRY%G1', 'dead', { DELAY: '3' }, { reconsumeTimes: 3, maxReconsumeTimes: 3, version: 121 });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(r.extFields.queueId).toBe('0');
    expect(broker.controller.topicConfigManager.selectTopicConfig('%DLQ%G1')).toMatchObject({ readQueueNums: 1, writeQueueNums: 1 });
    const [dlq] = recordsOf(await broker.pull('%DLQ%G1', 0, 0));
    expect(dlq!.body.toString()).toBe('dead');
    expect(dlq!.reconsumeTimes).toBe(3);
    expect(dlq!.properties.DELAY).toBeUndefined();
  });

  it('uses the group retryMaxTimes (16) for clients older than V3_4_9', async () => {
    broker = await startTestBroker();
    const r = await broker.send('%RETRY%G2', 'old', {}, { reconsumeTimes: 3, maxReconsumeTimes: 3, version: 100 });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(recordsOf(await broker.pull('%RETRY%G2', 0, 0))).toHaveLength(1);
    const r2 = await broker.send('%RETRY%G2', 'old', {}, { reconsumeTimes: 16, version: 100 });
    expect(r2.code).toBe(ResponseCode.SUCCESS);
    expect(recordsOf(await broker.pull('%DLQ%G2', 0, 0))).toHaveLength(1);
  });
});
