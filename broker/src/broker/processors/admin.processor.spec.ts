import { afterEach, describe, expect, it } from 'vitest';
import { parseOffsetMessageId } from '../../protocol/message-id';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { recordsOf, startTestBroker, type TestBroker } from '../broker.test-support';
import type { ConsumeStats, TopicStatsTable } from '../../protocol/bodies';

let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

async function setup(): Promise<TestBroker> {
  const b = await startTestBroker();
  const r = await b.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
    topic: 'A', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG',
  });
  expect(r.code).toBe(ResponseCode.SUCCESS);
  return b;
}

describe('QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET', () => {
  it('answers 0 for a new group on a young queue, the committed value after an update, 22 when asked not to default', async () => {
    broker = await setup();
    await broker.send('A', 'x');
    const q = (group: string, extra = {}) => broker!.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic: 'A', queueId: 0, ...extra });
    const fresh = await q('G');
    expect(fresh.code).toBe(ResponseCode.SUCCESS);
    expect(fresh.extFields.offset).toBe('0');
    expect((await q('G', { setZeroIfNotFound: false })).code).toBe(ResponseCode.QUERY_NOT_FOUND);

    const upd = await broker.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'G', topic: 'A', queueId: 0, commitOffset: 1 });
    expect(upd.code).toBe(ResponseCode.SUCCESS);
    expect((await q('G')).extFields.offset).toBe('1');

    // Oneway update (how Java and ali-ons send it): no reply, but stored.
    const oneway = createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'G', topic: 'A', queueId: 1, commitOffset: 5 }, undefined, true);
    await broker.client.invokeOneway(broker.addr, oneway);
    await new Promise((r) => setTimeout(r, 50));
    expect((await broker.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'G', topic: 'A', queueId: 1 })).extFields.offset).toBe('5');

    // ali-ons commits -1 for untouched queues: accepted, then read as "nothing stored".
    const neg = await broker.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'G2', topic: 'A', queueId: 0, commitOffset: -1 });
    expect(neg.code).toBe(ResponseCode.SUCCESS);
    expect((await q('G2', { setZeroIfNotFound: false })).code).toBe(ResponseCode.QUERY_NOT_FOUND);
  });

  it('answers 22 when message 0 is no longer hot (cold start on an old queue)', async () => {
    broker = await setup();
    await broker.send('A', 'x');
    const { ConsumerOffsetProcessor } = await import('./consumer-offset.processor');
    const cold = new ConsumerOffsetProcessor(broker.controller.brokerContext, { totalMemoryBytes: 0 });
    await broker.send('A', 'y');
    const req = createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'Cold', topic: 'A', queueId: 0 });
    const r = cold.process(req, { remoteAddress: 'x' } as never);
    expect(r.code).toBe(ResponseCode.QUERY_NOT_FOUND);
  });
});

describe('offset lookups', () => {
  it('GET_MAX_OFFSET / GET_MIN_OFFSET / GET_EARLIEST_MSG_STORETIME / SEARCH_OFFSET_BY_TIMESTAMP', async () => {
    broker = await setup();
    const before = Date.now();
    for (let i = 0; i < 3; i++) await broker.send('A', `m${i}`);
    const ext = { topic: 'A', queueId: 0 };
    expect((await broker.call(RequestCode.GET_MAX_OFFSET, ext)).extFields.offset).toBe('3');
    expect((await broker.call(RequestCode.GET_MIN_OFFSET, ext)).extFields.offset).toBe('0');
    const earliest = Number((await broker.call(RequestCode.GET_EARLIEST_MSG_STORETIME, ext)).extFields.timestamp);
    expect(earliest).toBeGreaterThanOrEqual(before - 1000);
    const search = await broker.call(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { ...ext, timestamp: before - 60_000 });
    expect(search.code).toBe(ResponseCode.SUCCESS);
    expect(search.extFields.offset).toBe('0');
    expect((await broker.call(RequestCode.GET_MAX_OFFSET, { topic: 'A', queueId: 1 })).extFields.offset).toBe('0');
  });
});

describe('VIEW_MESSAGE_BY_ID and QUERY_MESSAGE', () => {
  it('views a message by the physical offset inside its msgId; SYSTEM_ERROR when absent', async () => {
    broker = await setup();
    const sent = await broker.send('A', 'viewed', { KEYS: 'key1' });
    const { offset } = parseOffsetMessageId(sent.extFields.msgId!);
    const r = await broker.call(RequestCode.VIEW_MESSAGE_BY_ID, { offset });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(recordsOf(r)[0]!.body.toString()).toBe('viewed');
    const missing = await broker.call(RequestCode.VIEW_MESSAGE_BY_ID, { offset: 999_999 });
    expect(missing.code).toBe(ResponseCode.SYSTEM_ERROR);
  });

  it('queries by key and by UNIQ_KEY; QUERY_NOT_FOUND otherwise', async () => {
    broker = await setup();
    await broker.send('A', 'k-msg', { KEYS: 'order-1 order-2', UNIQ_KEY: 'ABCDEF0123' });
    await broker.send('A', 'other', { KEYS: 'order-3' });
    const now = Date.now();
    const ext = { topic: 'A', maxNum: 32, beginTimestamp: now - 60_000, endTimestamp: now + 60_000 };
    const byKey = await broker.call(RequestCode.QUERY_MESSAGE, { ...ext, key: 'order-2' });
    expect(byKey.code).toBe(ResponseCode.SUCCESS);
    expect(byKey.extFields.indexLastUpdateTimestamp).toBeDefined();
    expect(byKey.extFields.indexLastUpdatePhyoffset).toBeDefined();
    expect(recordsOf(byKey).map((r) => r.body.toString())).toEqual(['k-msg']);
    const byUniq = await broker.call(RequestCode.QUERY_MESSAGE, { ...ext, maxNum: 1, key: 'ABCDEF0123', _UNIQUE_KEY_QUERY: 'true' });
    expect(recordsOf(byUniq).map((r) => r.body.toString())).toEqual(['k-msg']);
    const none = await broker.call(RequestCode.QUERY_MESSAGE, { ...ext, key: 'nope' });
    expect(none.code).toBe(ResponseCode.QUERY_NOT_FOUND);
  });
});

describe('topic admin', () => {
  it('UPDATE_AND_CREATE_TOPIC validates, creates and shows up in GET_ALL_TOPIC_CONFIG', async () => {
    broker = await setup();
    const bad = await broker.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic: 'bad name', defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG',
    });
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    const all = await broker.call(RequestCode.GET_ALL_TOPIC_CONFIG);
    const body = JSON.parse(all.body!.toString()) as { topicConfigTable: Record<string, { readQueueNums: number }>; dataVersion: { counter: number } };
    expect(body.topicConfigTable.A?.readQueueNums).toBe(2);
    expect(body.topicConfigTable.TBW102).toBeDefined();
    expect(body.dataVersion.counter).toBeGreaterThan(0);
  });

  it('GET_TOPIC_STATS_INFO and GET_CONSUME_STATS report per-queue offsets', async () => {
    broker = await setup();
    for (let i = 0; i < 3; i++) await broker.send('A', `m${i}`, {}, { queueId: i % 2 });
    await broker.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG', topic: 'A', queueId: 0, commitOffset: 1 });
    const stats = await broker.call(RequestCode.GET_TOPIC_STATS_INFO, { topic: 'A' });
    expect(stats.code).toBe(ResponseCode.SUCCESS);
    const st = JSON.parse(stats.body!.toString()) as TopicStatsTable;
    expect(st.offsetTable.map((e) => [e.mq.queueId, e.minOffset, e.maxOffset])).toEqual([[0, 0, 2], [1, 0, 1]]);
    expect(st.offsetTable[0]!.lastUpdateTimestamp).toBeGreaterThan(0);
    expect(st.offsetTable[0]!.mq.brokerName).toBe('broker-a');
    expect((await broker.call(RequestCode.GET_TOPIC_STATS_INFO, { topic: 'Nope' })).code).toBe(ResponseCode.TOPIC_NOT_EXIST);

    const cs = await broker.call(RequestCode.GET_CONSUME_STATS, { consumerGroup: 'CG' });
    expect(cs.code).toBe(ResponseCode.SUCCESS);
    const c = JSON.parse(cs.body!.toString()) as ConsumeStats;
    expect(c.offsetTable.map((e) => [e.mq.topic, e.mq.queueId, e.brokerOffset, e.consumerOffset])).toEqual([['A', 0, 2, 1], ['A', 1, 1, 0]]);
    expect(c.consumeTps).toBe(0);
  });

  it('GET_CONSUMER_CONNECTION_LIST: 206 when the group is offline', async () => {
    broker = await setup();
    expect((await broker.call(RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: 'Offline' })).code).toBe(ResponseCode.CONSUMER_NOT_ONLINE);
  });
});
