import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock';
import { silentLogger } from '../../common/logger';
import { defaultBrokerSettings, parseDelayLevels, type BrokerSettings } from '../../config';
import { createOffsetMessageId } from '../../protocol/message-id';
import { createRequest, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { FakeChannel } from '../client/fake-channel.test-support';
import { SystemTopic } from '../constants';
import { ScheduleMessageService } from '../schedule/schedule-message.service';
import { InMemoryMessageStore } from '../schedule/test-support';
import { SubscriptionGroupManager } from '../subscription-group-manager';
import { TopicConfigManager } from '../topic-config-manager';
import { ConsumerSendMsgBackProcessor, type SendBackContext } from './consumer-send-msg-back.processor';

describe('ConsumerSendMsgBackProcessor', () => {
  let dir: string;
  let settings: BrokerSettings;
  let clock: ManualClock;
  let store: InMemoryMessageStore;
  let topics: TopicConfigManager;
  let groups: SubscriptionGroupManager;
  let ctx: SendBackContext;
  let processor: ConsumerSendMsgBackProcessor;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-send-back-'));
    settings = { ...defaultBrokerSettings(), storePathRootDir: dir };
    clock = new ManualClock(1_700_000_000_000);
    const delayLevelsMs = parseDelayLevels(settings.messageDelayLevel);
    store = new InMemoryMessageStore(delayLevelsMs, clock);
    topics = new TopicConfigManager(settings);
    topics.load();
    groups = new SubscriptionGroupManager(settings);
    ctx = { settings, store, topicConfigManager: topics, subscriptionGroupManager: groups, delayLevelsMs, logger: silentLogger, brokerPermission: 6 };
    processor = new ConsumerSendMsgBackProcessor(ctx);
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function putOriginal(props: Record<string, string> = {}, reconsumeTimes = 0, topic = 'T'): Promise<number> {
    const res = await store.putMessage({
      topic,
      queueId: 0,
      flag: 7,
      body: Buffer.from('hello'),
      properties: { TAGS: 'TagA', KEYS: 'k1', ...props },
      sysFlag: 0,
      bornTimestamp: 1234,
      bornHost: { host: '10.0.0.9', port: 5555 },
      reconsumeTimes,
      preparedTransactionOffset: 0,
    });
    return res.appended[0]!.physicalOffset;
  }

  function sendBack(offset: number, extra: Record<string, string | number> = {}, version = 121): Promise<RemotingCommand> {
    const req = createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { offset, group: 'CG', delayLevel: 0, originMsgId: 'X', originTopic: 'T', unitMode: false, ...extra });
    req.version = version;
    return processor.consumerSendMsgBack(req);
  }

  /** The message most recently parked in the schedule topic. */
  function lastParked() {
    const put = store.puts.at(-1)!;
    expect(put.topic).toBe(SystemTopic.SCHEDULE);
    return put;
  }

  it('re-stores the message for %RETRY%<group> with reconsumeTimes+1 and delay level 3 + reconsumeTimes', async () => {
    const offset = await putOriginal();
    const res = await sendBack(offset);
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(topics.selectTopicConfig('%RETRY%CG')).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: 6 });

    const parked = lastParked();
    expect(parked.queueId).toBe(2); // level 3 → queue 2
    expect(parked.reconsumeTimes).toBe(1);
    expect(parked.body.toString()).toBe('hello');
    expect(parked.flag).toBe(7);
    expect(parked.bornTimestamp).toBe(1234);
    expect(parked.bornHost).toEqual({ host: '10.0.0.9', port: 5555 });
    expect(parked.properties).toMatchObject({
      TAGS: 'TagA',
      KEYS: 'k1',
      DELAY: '3',
      RETRY_TOPIC: 'T',
      REAL_TOPIC: '%RETRY%CG',
      REAL_QID: '0',
      ORIGIN_MESSAGE_ID: createOffsetMessageId(store.storeHost, offset),
    });

    // The retry copy fails again: the level rises, RETRY_TOPIC and ORIGIN_MESSAGE_ID stay.
    const second = (await store.putMessage({ ...parked, topic: '%RETRY%CG', queueId: 0 })).appended[0]!.physicalOffset;
    expect((await sendBack(second)).code).toBe(ResponseCode.SUCCESS);
    const parked2 = lastParked();
    expect(parked2.queueId).toBe(3); // level 4
    expect(parked2.reconsumeTimes).toBe(2);
    expect(parked2.properties.RETRY_TOPIC).toBe('T');
    expect(parked2.properties.ORIGIN_MESSAGE_ID).toBe(createOffsetMessageId(store.storeHost, offset));
  });

  it('uses the delay level the client asks for', async () => {
    const offset = await putOriginal();
    expect((await sendBack(offset, { delayLevel: 1 })).code).toBe(ResponseCode.SUCCESS);
    expect(lastParked().queueId).toBe(0);
    expect(lastParked().properties.DELAY).toBe('1');
  });

  it('goes to %DLQ%<group> (1 queue, RW, no delay) once reconsumeTimes reaches the header max (version >= 121)', async () => {
    const offset = await putOriginal({}, 3);
    expect((await sendBack(offset, { maxReconsumeTimes: 3 })).code).toBe(ResponseCode.SUCCESS);
    const put = store.puts.at(-1)!;
    expect(put.topic).toBe('%DLQ%CG');
    expect(put.queueId).toBe(0);
    expect(put.reconsumeTimes).toBe(4);
    expect(put.properties.DELAY).toBeUndefined();
    expect(topics.selectTopicConfig('%DLQ%CG')).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: 6 });
    expect(store.messagesIn('%DLQ%CG', 0)).toHaveLength(1);
  });

  it('ignores the header max for old clients (version < 121) and uses the group retryMaxTimes (16)', async () => {
    const below = await putOriginal({}, 3);
    expect((await sendBack(below, { maxReconsumeTimes: 3 }, 100)).code).toBe(ResponseCode.SUCCESS);
    expect(store.puts.at(-1)!.topic).toBe(SystemTopic.SCHEDULE);

    const atMax = await putOriginal({}, 16);
    expect((await sendBack(atMax, {}, 100)).code).toBe(ResponseCode.SUCCESS);
    expect(store.puts.at(-1)!.topic).toBe('%DLQ%CG');
  });

  it('sends a message straight to the DLQ when delayLevel < 0', async () => {
    const offset = await putOriginal();
    expect((await sendBack(offset, { delayLevel: -1 })).code).toBe(ResponseCode.SUCCESS);
    expect(store.puts.at(-1)).toMatchObject({ topic: '%DLQ%CG', reconsumeTimes: 1 });
  });

  it('answers the §5 error cases', async () => {
    const bad = await sendBack(999_999);
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(bad.remark).toBe('look message by offset failed, 999999');

    const missing = await processor.consumerSendMsgBack(createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { group: 'CG', delayLevel: 0 }));
    expect(missing.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(missing.remark).toContain('offset');

    const strict = new SubscriptionGroupManager({ storePathRootDir: dir, autoCreateSubscriptionGroup: false });
    const p2 = new ConsumerSendMsgBackProcessor({ ...ctx, subscriptionGroupManager: strict });
    const noGroup = await p2.consumerSendMsgBack(createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: 0, group: 'NOPE', delayLevel: 0 }));
    expect(noGroup.code).toBe(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);

    groups.updateSubscriptionGroupConfig({ groupName: 'CG', retryQueueNums: 0 });
    const offset = await putOriginal();
    const before = store.puts.length;
    expect((await sendBack(offset)).code).toBe(ResponseCode.SUCCESS);
    expect(store.puts.length).toBe(before); // dropped
  });

  it('reports a store failure as SYSTEM_ERROR with the status', async () => {
    const offset = await putOriginal();
    store.failNextPuts = 1;
    const res = await sendBack(offset);
    expect(res.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(res.remark).toBe('SERVICE_NOT_AVAILABLE');
  });

  it('end to end: retries come back on %RETRY%<group> through the schedule service, then land in the DLQ', async () => {
    const short = { ...settings, messageDelayLevel: '1s 2s 3s 4s 5s 6s 7s 8s' };
    const delayLevelsMs = parseDelayLevels(short.messageDelayLevel);
    const s2 = new InMemoryMessageStore(delayLevelsMs, clock);
    const p = new ConsumerSendMsgBackProcessor({ ...ctx, settings: short, store: s2, delayLevelsMs });
    const schedule = new ScheduleMessageService({ store: s2, settings: short, clock });
    schedule.start();
    try {
      let offset = (
        await s2.putMessage({
          topic: 'T', queueId: 0, flag: 0, body: Buffer.from('x'), properties: { TAGS: 'a' }, sysFlag: 0,
          bornTimestamp: 1, bornHost: { host: '10.0.0.9', port: 1 }, reconsumeTimes: 0, preparedTransactionOffset: 0,
        })
      ).appended[0]!.physicalOffset;
      const seen: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const req = createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { offset, group: 'CG', delayLevel: 0, maxReconsumeTimes: 2 });
        expect((await p.consumerSendMsgBack(req)).code).toBe(ResponseCode.SUCCESS);
        if (attempt === 2) break;
        await Promise.resolve(); // dispatch
        const level = 3 + attempt;
        clock.advance(delayLevelsMs[level - 1]! - 1);
        await schedule.runOnce();
        expect(s2.messagesIn('%RETRY%CG', 0)).toHaveLength(attempt); // not yet due
        clock.advance(1);
        await schedule.runOnce();
        const retried = s2.messagesIn('%RETRY%CG', 0);
        expect(retried).toHaveLength(attempt + 1);
        const msg = retried.at(-1)!;
        seen.push(msg.reconsumeTimes);
        expect(msg.properties.DELAY).toBeUndefined();
        expect(msg.properties.REAL_TOPIC).toBe('%RETRY%CG');
        offset = msg.physicalOffset;
      }
      expect(seen).toEqual([1, 2]);
      const dlq = s2.messagesIn('%DLQ%CG', 0);
      expect(dlq).toHaveLength(1);
      expect(dlq[0]!.reconsumeTimes).toBe(3);
      expect(dlq[0]!.properties.RETRY_TOPIC).toBe('T');
    } finally {
      await schedule.shutdown();
    }
  });

  it('is reachable through processRequest (the RequestProcessor the controller registers)', async () => {
    const offset = await putOriginal();
    const res = await processor.processRequest(
      createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { offset, group: 'CG', delayLevel: 0 }),
      new FakeChannel(),
    );
    expect(res?.code).toBe(ResponseCode.SUCCESS);
  });
});
