import { afterEach, describe, expect, it } from 'vitest';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { recordsOf, startTestBroker, type TestBroker } from '../broker.test-support';

let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

async function setup(overrides = {}): Promise<TestBroker> {
  const b = await startTestBroker(overrides);
  for (const topic of ['P', 'Q']) {
    const r = await b.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG',
    });
    expect(r.code).toBe(ResponseCode.SUCCESS);
  }
  return b;
}

const FOUR = ['suggestWhichBrokerId', 'nextBeginOffset', 'minOffset', 'maxOffset'];

function offsets(r: { extFields: Record<string, string> }): { next: number; min: number; max: number } {
  for (const k of FOUR) expect(r.extFields[k], k).toBeDefined();
  return { next: Number(r.extFields.nextBeginOffset), min: Number(r.extFields.minOffset), max: Number(r.extFields.maxOffset) };
}

describe('PULL_MESSAGE result codes', () => {
  it('returns the four header fields on 0/19/20/21 with the right offsets', async () => {
    broker = await setup();
    // Empty queue, offset 0 → 19; offset 5 → 21.
    const empty = await broker.pull('P', 0, 0);
    expect(empty.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(offsets(empty)).toEqual({ next: 0, min: 0, max: 0 });
    const moved = await broker.pull('P', 0, 5);
    expect(moved.code).toBe(ResponseCode.PULL_OFFSET_MOVED);
    expect(offsets(moved).next).toBe(0);

    for (let i = 0; i < 3; i++) await broker.send('P', `m${i}`, { TAGS: i === 1 ? 'TagB' : 'TagA' });
    const found = await broker.pull('P', 0, 0, { maxMsgNums: 2 });
    expect(found.code).toBe(ResponseCode.SUCCESS);
    expect(offsets(found)).toEqual({ next: 2, min: 0, max: 3 });
    expect(found.extFields.suggestWhichBrokerId).toBe('0');
    expect(recordsOf(found).map((r) => r.body.toString())).toEqual(['m0', 'm1']);

    const atEnd = await broker.pull('P', 0, 3);
    expect(atEnd.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(offsets(atEnd)).toEqual({ next: 3, min: 0, max: 3 });

    const beyond = await broker.pull('P', 0, 10);
    expect(beyond.code).toBe(ResponseCode.PULL_OFFSET_MOVED);
    // Java 4.9.7 corrects to minOffset when it is 0, else to maxOffset (the store decides).
    expect([0, 3]).toContain(offsets(beyond).next);

    // Everything from offset 1 on filtered out → 20 with nextBeginOffset past the scanned entries.
    const noMatch = await broker.pull('P', 0, 1, { subscription: 'TagC' });
    expect(noMatch.code).toBe(ResponseCode.PULL_RETRY_IMMEDIATELY);
    expect(offsets(noMatch)).toEqual({ next: 3, min: 0, max: 3 });
  });

  it('store-result replies carry topicSysFlag and groupSysFlag like Apache RocketMQ 5.3.3 (compat matrix)', async () => {
    broker = await setup();
    const empty = await broker.pull('P', 0, 0);
    expect(empty.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(empty.extFields).toMatchObject({ topicSysFlag: '0', groupSysFlag: '0' });
    await broker.send('P', 'm0');
    const found = await broker.pull('P', 0, 0);
    expect(found.code).toBe(ResponseCode.SUCCESS);
    expect(found.extFields).toMatchObject({ topicSysFlag: '0', groupSysFlag: '0' });
  });

  it('filters by tag (hash in the ConsumeQueue, then the exact tag)', async () => {
    broker = await setup();
    const tags = ['TagA', 'TagB', 'TagA', 'TagC', 'TagB'];
    for (const [i, t] of tags.entries()) await broker.send('P', `m${i}`, { TAGS: t });
    const a = recordsOf(await broker.pull('P', 0, 0, { subscription: 'TagA' }));
    expect(a.map((r) => r.body.toString())).toEqual(['m0', 'm2']);
    const bc = recordsOf(await broker.pull('P', 0, 0, { subscription: 'TagB || TagC' }));
    expect(bc.map((r) => r.body.toString())).toEqual(['m1', 'm3', 'm4']);
    expect(recordsOf(await broker.pull('P', 0, 0, { subscription: '*' }))).toHaveLength(5);
  });

  it('answers the request checks with RocketMQ codes', async () => {
    broker = await setup();
    const noTopic = await broker.pull('NoSuchTopic', 0, 0);
    expect(noTopic.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    for (const k of FOUR) expect(noTopic.extFields[k]).toBeDefined();
    expect((await broker.pull('P', 2, 0)).code).toBe(ResponseCode.SYSTEM_ERROR);
    expect((await broker.pull('P', -1, 0)).code).toBe(ResponseCode.SYSTEM_ERROR);
    expect((await broker.pull('P', 0, 0, { subscription: '||' })).code).toBe(ResponseCode.SUBSCRIPTION_PARSE_FAILED);
    const missing = await broker.call(RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: 'P', queueId: 0 });
    expect(missing.code).toBe(ResponseCode.SYSTEM_ERROR);
  });

  it('without the subscription bit, uses the HEART_BEAT registration (24 / 25 / success)', async () => {
    broker = await setup();
    await broker.send('P', 'hb', { TAGS: 'TagA' });
    const noGroup = await broker.pull('P', 0, 0, { sysFlag: 0, group: 'HBG', subVersion: 100 });
    expect(noGroup.code).toBe(ResponseCode.SUBSCRIPTION_NOT_EXIST);

    const heartbeat = {
      clientID: '127.0.0.1@test',
      producerDataSet: [],
      consumerDataSet: [
        {
          groupName: 'HBG', consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', unitMode: false,
          subscriptionDataSet: [{ topic: 'P', subString: 'TagA', tagsSet: ['TagA'], codeSet: [2598919], subVersion: 100, expressionType: 'TAG', classFilterMode: false }],
        },
      ],
    };
    const hb = await broker.call(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify(heartbeat)));
    expect(hb.code).toBe(ResponseCode.SUCCESS);

    const ok = await broker.pull('P', 0, 0, { sysFlag: 0, group: 'HBG', subVersion: 100 });
    expect(ok.code).toBe(ResponseCode.SUCCESS);
    expect(recordsOf(ok)).toHaveLength(1);
    expect((await broker.pull('Q', 0, 0, { sysFlag: 0, group: 'HBG', subVersion: 100 })).code).toBe(ResponseCode.SUBSCRIPTION_NOT_EXIST);
    expect((await broker.pull('P', 0, 0, { sysFlag: 0, group: 'HBG', subVersion: 101 })).code).toBe(ResponseCode.SUBSCRIPTION_NOT_LATEST);
  });

  it('commits the offset with bit 0x1, also on 19', async () => {
    broker = await setup();
    await broker.send('P', 'x');
    const r = await broker.pull('P', 0, 1, { sysFlag: 0x4 | 0x1, commitOffset: 1, group: 'CommitG' });
    expect(r.code).toBe(ResponseCode.PULL_NOT_FOUND);
    const q = await broker.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CommitG', topic: 'P', queueId: 0 });
    expect(q.code).toBe(ResponseCode.SUCCESS);
    expect(q.extFields.offset).toBe('1');
  });
});

describe('long polling', () => {
  it('holds a 19 with the suspend bit and answers as soon as a message arrives', async () => {
    broker = await setup();
    const started = Date.now();
    const pending = broker.pull('P', 1, 0, { sysFlag: 0x4 | 0x2, suspendTimeoutMillis: 10_000, timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(broker.controller.brokerContext).toBeDefined();
    await broker.send('P', 'wake', {}, { queueId: 1 });
    const r = await pending;
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(recordsOf(r).map((x) => x.body.toString())).toEqual(['wake']);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('does not wake for messages on another queue or filtered out, and times out with 19', async () => {
    broker = await setup();
    const started = Date.now();
    const pending = broker.pull('P', 0, 0, { sysFlag: 0x4 | 0x2, suspendTimeoutMillis: 600, subscription: 'TagA' });
    await broker.send('P', 'other queue', { TAGS: 'TagA' }, { queueId: 1 });
    await broker.send('Q', 'other topic', { TAGS: 'TagA' }, { queueId: 0 });
    const r = await pending;
    const waited = Date.now() - started;
    expect(r.code).toBe(ResponseCode.PULL_NOT_FOUND);
    for (const k of FOUR) expect(r.extFields[k]).toBeDefined();
    expect(waited).toBeGreaterThanOrEqual(550);
    expect(waited).toBeLessThan(3000);
  });

  it('uses shortPollingTimeMills when long polling is off', async () => {
    broker = await setup({ longPollingEnable: false, shortPollingTimeMills: 300 });
    const started = Date.now();
    const r = await broker.pull('P', 0, 0, { sysFlag: 0x4 | 0x2, suspendTimeoutMillis: 20_000 });
    expect(r.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('drops held requests of a closed channel', async () => {
    broker = await setup();
    void broker.pull('P', 0, 0, { sysFlag: 0x4 | 0x2, suspendTimeoutMillis: 10_000 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const hold = (broker.controller as unknown as { holdService: { heldCount: number } }).holdService;
    expect(hold.heldCount).toBe(1);
    broker.client.closeConnection(broker.addr);
    await new Promise((r) => setTimeout(r, 100));
    expect(hold.heldCount).toBe(0);
  });
});
