import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultBrokerSettings } from '../../config';
import { createRequest, createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { RemotingClient } from '../../remoting/remoting-client';
import { RemotingServer } from '../../remoting/remoting-server';
import { ClientHousekeepingService } from '../client/client-housekeeping.service';
import { FakeChannel } from '../client/fake-channel.test-support';
import { ConsumerIdsChangeNotifier } from '../client/consumer-ids-change-notifier';
import { ConsumerManager } from '../client/consumer-manager';
import { ProducerManager } from '../client/producer-manager';
import { Perm } from '../constants';
import { SubscriptionGroupManager } from '../subscription-group-manager';
import { TopicConfigManager } from '../topic-config-manager';
import { ClientManageProcessor, parseHeartbeatData } from './client-manage.processor';

function heartbeat(clientID: string, opts: { group?: string; tags?: string; producer?: string } = {}): Buffer {
  const group = opts.group ?? 'CG';
  return Buffer.from(
    JSON.stringify({
      clientID,
      producerDataSet: opts.producer ? [{ groupName: opts.producer }] : [],
      consumerDataSet: [
        {
          groupName: group,
          consumeType: 'CONSUME_PASSIVELY',
          messageModel: 'CLUSTERING',
          consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
          unitMode: false,
          // ali-ons style: no expressionType
          subscriptionDataSet: [
            { topic: 'T', subString: opts.tags ?? 'TagA', classFilterMode: false, tagsSet: [opts.tags ?? 'TagA'], codeSet: [80_000_000], subVersion: 1 },
          ],
        },
      ],
    }),
  );
}

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ClientManageProcessor over a RemotingServer', () => {
  let dir: string;
  let server: RemotingServer;
  let addr: string;
  let consumerManager: ConsumerManager;
  let producerManager: ProducerManager;
  let topics: TopicConfigManager;
  const clients: RemotingClient[] = [];

  /** A client that records the NOTIFY_CONSUMER_IDS_CHANGED requests the broker sends it. */
  function newClient(): { client: RemotingClient; notifies: RemotingCommand[] } {
    const client = new RemotingClient();
    const notifies: RemotingCommand[] = [];
    client.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (req) => {
      notifies.push(req);
      return createResponse(req, ResponseCode.SUCCESS);
    });
    clients.push(client);
    return { client, notifies };
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-client-manage-'));
    const settings = { ...defaultBrokerSettings(), storePathRootDir: dir };
    topics = new TopicConfigManager(settings);
    topics.load();
    const groups = new SubscriptionGroupManager(settings);
    consumerManager = new ConsumerManager({ listener: new ConsumerIdsChangeNotifier() });
    producerManager = new ProducerManager();
    const housekeeping = new ClientHousekeepingService({ consumerManager, producerManager });
    server = new RemotingServer({ host: '127.0.0.1', port: 0 });
    new ClientManageProcessor({ consumerManager, producerManager, topicConfigManager: topics, subscriptionGroupManager: groups }).registerTo(server);
    server.onChannelClose((ch) => housekeeping.onChannelClose(ch));
    const port = await server.start();
    addr = `127.0.0.1:${port}`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('HEART_BEAT registers the consumer, creates %RETRY%<group>, replies SUCCESS with a modern version', async () => {
    const { client } = newClient();
    const res = await client.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('10.0.0.5@111', { producer: 'PG' })), 3000);
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(res.version).toBeGreaterThanOrEqual(401);
    expect(res.body === undefined || res.body.length === 0).toBe(true);

    const retry = topics.selectTopicConfig('%RETRY%CG');
    expect(retry).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: Perm.READ | Perm.WRITE });
    const sub = consumerManager.findSubscriptionData('CG', 'T');
    expect(sub).toMatchObject({ subString: 'TagA', expressionType: 'TAG', subVersion: 1 });
    expect(producerManager.getGroupChannels('PG').map((c) => c.clientId)).toEqual(['10.0.0.5@111']);
    expect(consumerManager.getConsumerGroupInfo('CG')?.channelInfoTable.size).toBe(1);
  });

  it('GET_CONSUMER_LIST_BY_GROUP lists members; SYSTEM_ERROR when the group has none', async () => {
    const { client } = newClient();
    const empty = await client.invoke(addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'CG' }), 3000);
    expect(empty.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(empty.remark).toBe('no consumer for this group, CG');

    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('10.0.0.5@111')), 3000);
    const list = await client.invoke(addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'CG' }), 3000);
    expect(list.code).toBe(ResponseCode.SUCCESS);
    expect(JSON.parse(list.body!.toString())).toEqual({ consumerIdList: ['10.0.0.5@111'] });
  });

  it('notifies every member on join, leave (close) and unregister; the list follows membership', async () => {
    const one = newClient();
    const two = newClient();
    await one.client.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('c1')), 3000);
    await waitFor(() => one.notifies.length === 1);
    await two.client.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('c2')), 3000);
    await waitFor(() => one.notifies.length === 2 && two.notifies.length === 1);
    expect(one.notifies[1]!.extFields.consumerGroup).toBe('CG');

    // A heartbeat that changes nothing sends nothing.
    await two.client.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('c2')), 3000);
    // A subscription change (newer version, new expression) notifies both.
    const changed = JSON.parse(heartbeat('c2', { tags: 'TagB' }).toString());
    changed.consumerDataSet[0].subscriptionDataSet[0].subVersion = 2;
    await two.client.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, Buffer.from(JSON.stringify(changed))), 3000);
    await waitFor(() => one.notifies.length === 3 && two.notifies.length === 2);
    expect(consumerManager.findSubscriptionData('CG', 'T')?.subString).toBe('TagB');

    const ids = await one.client.invoke(addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'CG' }), 3000);
    expect(JSON.parse(ids.body!.toString()).consumerIdList.sort()).toEqual(['c1', 'c2']);

    // c2 disconnects: removed at once, c1 told.
    two.client.close();
    await waitFor(() => consumerManager.getAllClientIds('CG').length === 1);
    await waitFor(() => one.notifies.length === 4);

    // UNREGISTER_CLIENT of the last member drops the group.
    const res = await one.client.invoke(addr, createRequest(RequestCode.UNREGISTER_CLIENT, { clientID: 'c1', consumerGroup: 'CG' }), 3000);
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(consumerManager.getConsumerGroupInfo('CG')).toBeUndefined();
  });

  it('CHECK_CLIENT_CONFIG accepts TAG and refuses SQL92 with a clear remark; bad heartbeat body → SYSTEM_ERROR', async () => {
    const { client } = newClient();
    const tag = await client.invoke(
      addr,
      createRequest(RequestCode.CHECK_CLIENT_CONFIG, undefined, Buffer.from(JSON.stringify({ clientId: 'c', group: 'CG', subscriptionData: { topic: 'T', subString: 'a', expressionType: 'TAG' } }))),
      3000,
    );
    expect(tag.code).toBe(ResponseCode.SUCCESS);
    const sql = await client.invoke(
      addr,
      createRequest(RequestCode.CHECK_CLIENT_CONFIG, undefined, Buffer.from(JSON.stringify({ clientId: 'c', group: 'CG', subscriptionData: { topic: 'T', subString: 'a > 1', expressionType: 'SQL92' } }))),
      3000,
    );
    expect(sql.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(sql.remark).toContain('does not support consumer to filter message by SQL92');

    const bad = await client.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, Buffer.from('not json')), 3000);
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
  });
});

describe('ClientManageProcessor topicsChanged hook', () => {
  it('waits for the hook (NameServer registration) before answering the heartbeat that created %RETRY%<group>', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-client-manage-hook-'));
    try {
      const settings = { ...defaultBrokerSettings(), storePathRootDir: dir };
      const topics = new TopicConfigManager(settings);
      topics.load();
      const events: string[] = [];
      let hang = false;
      const processor = new ClientManageProcessor({
        consumerManager: new ConsumerManager(),
        producerManager: new ProducerManager(),
        topicConfigManager: topics,
        subscriptionGroupManager: new SubscriptionGroupManager(settings),
        topicsChanged: async () => {
          events.push('register:start');
          if (hang) return new Promise(() => undefined);
          await new Promise((r) => setTimeout(r, 20));
          events.push('register:done');
        },
        topicsChangedWaitMs: 100,
      });
      const ch = new FakeChannel();
      const first = await processor.processRequest(createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('c1')), ch);
      events.push('replied');
      expect(first?.code).toBe(ResponseCode.SUCCESS);
      expect(events).toEqual(['register:start', 'register:done', 'replied']);

      // The topic exists now: later heartbeats answer at once without the hook.
      const again = processor.processRequest(createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('c1')), ch);
      expect(again).not.toBeInstanceOf(Promise);
      expect(events).toHaveLength(3);

      // A hanging NameServer delays a new group's heartbeat by at most topicsChangedWaitMs.
      hang = true;
      const t0 = Date.now();
      const other = await processor.processRequest(createRequest(RequestCode.HEART_BEAT, undefined, heartbeat('c1', { group: 'CG2' })), ch);
      expect(other?.code).toBe(ResponseCode.SUCCESS);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseHeartbeatData', () => {
  it('reads a Java 5.x heartbeat with extra fields and defaults missing ones', () => {
    const hb = parseHeartbeatData(
      Buffer.from(
        JSON.stringify({
          clientID: '10.0.0.5@1#2',
          producerDataSet: [{ groupName: 'CLIENT_INNER_PRODUCER' }],
          consumerDataSet: [{ groupName: 'CG', subscriptionDataSet: [{ topic: '%RETRY%CG', subString: '*', subVersion: 7, tagsSet: [], codeSet: [] }] }],
          heartbeatFingerprint: 0,
          withoutSub: false,
        }),
      ),
    );
    expect(hb?.consumerDataSet[0]).toMatchObject({ consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING' });
    expect(hb?.consumerDataSet[0]?.subscriptionDataSet[0]).toMatchObject({ topic: '%RETRY%CG', expressionType: 'TAG', subVersion: 7 });
    expect(parseHeartbeatData(Buffer.from('[]'))).toBeUndefined();
    expect(parseHeartbeatData(Buffer.from('{"producerDataSet":[]}'))).toBeUndefined();
  });
});
