import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../common/logger';
import { defaultNamesrvSettings } from '../config';
import { NameServer } from '../namesrv/name-server';
import { RequestCode } from '../protocol/request-code';
import { ResponseCode } from '../protocol/response-code';
import { createRequest } from '../protocol/remoting-command';
import { RemotingClient } from '../remoting/remoting-client';
import { makeTempDir, recordsOf, startTestBroker, type TestBroker } from './broker.test-support';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function startNamesrv(): Promise<NameServer> {
  const dir = makeTempDir('rocketry-ns-');
  const ns = new NameServer(
    { ...defaultNamesrvSettings(), listenHost: '127.0.0.1', listenPort: 0, kvConfigPath: path.join(dir, 'kv.json') },
    { logger: silentLogger },
  );
  await ns.start();
  cleanups.push(async () => {
    await ns.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return ns;
}

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('BrokerController', () => {
  it('registers with every NameServer at start, re-registers at once on topic change, unregisters on shutdown', async () => {
    const ns1 = await startNamesrv();
    const ns2 = await startNamesrv();
    const broker = await startTestBroker({ namesrvAddr: `${ns1.address};${ns2.address}` }, { registerDebounceMs: 10 });
    let stopped = false;
    cleanups.push(() => (stopped ? undefined : broker.stop()));
    for (const ns of [ns1, ns2]) {
      const route = ns.routeInfoManager.pickupTopicRouteData('TBW102');
      expect(route?.brokerDatas[0]?.brokerAddrs['0']).toBe(broker.controller.brokerAddr);
      expect(ns.routeInfoManager.pickupTopicRouteData('NewTopic')).toBeUndefined();
    }
    const r = await broker.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic: 'NewTopic', defaultTopic: 'TBW102', readQueueNums: 3, writeQueueNums: 3, perm: 6, topicFilterType: 'SINGLE_TAG',
    });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    await waitFor(() => [ns1, ns2].every((ns) => ns.routeInfoManager.pickupTopicRouteData('NewTopic') !== undefined));
    expect(ns1.routeInfoManager.pickupTopicRouteData('NewTopic')?.queueDatas[0]).toMatchObject({ readQueueNums: 3, writeQueueNums: 3 });
    // A %RETRY% topic created by a send reaches the NameServer without waiting for the 30 s period.
    expect((await broker.send('%RETRY%GX', 'r')).code).toBe(ResponseCode.SUCCESS);
    await waitFor(() => ns2.routeInfoManager.pickupTopicRouteData('%RETRY%GX') !== undefined);

    // A read-only broker advertises its topics read-only at once.
    broker.controller.brokerPermission = 4;
    await waitFor(() => ns1.routeInfoManager.pickupTopicRouteData('NewTopic')?.queueDatas[0]?.perm === 4);
    expect((await broker.send('NewTopic', 'x')).code).toBe(ResponseCode.NO_PERMISSION);

    await broker.stop();
    stopped = true;
    for (const ns of [ns1, ns2]) expect(ns.routeInfoManager.pickupTopicRouteData('NewTopic')).toBeUndefined();
  });

  it('keeps topics, offsets, subscription groups and messages across a restart', async () => {
    const dir = makeTempDir();
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const first = await startTestBroker({}, { dir });
    await first.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic: 'Keep', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG',
    });
    await first.send('Keep', 'persisted');
    await first.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'KG', topic: 'Keep', queueId: 0, commitOffset: 1 });
    await first.stop(false);
    for (const f of ['topics.json', 'consumerOffset.json', 'subscriptionGroup.json']) {
      expect(fs.existsSync(path.join(dir, 'config', f)), f).toBe(true);
    }

    const second = await startTestBroker({}, { dir });
    cleanups.push(() => second.stop(false));
    expect(second.controller.topicConfigManager.selectTopicConfig('Keep')?.readQueueNums).toBe(2);
    const q = await second.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'KG', topic: 'Keep', queueId: 0 });
    expect(q.extFields.offset).toBe('1');
    expect(recordsOf(await second.pull('Keep', 0, 0)).map((r) => r.body.toString())).toEqual(['persisted']);
  });

  it('serves the fast (VIP) port too when fastListenPortEnable', async () => {
    const broker: TestBroker = await startTestBroker({ fastListenPortEnable: true });
    cleanups.push(() => broker.stop());
    const fast = broker.controller.fastListenPort;
    expect(fast).toBeGreaterThan(0);
    const client = new RemotingClient({ logger: silentLogger });
    cleanups.push(() => client.close());
    const r = await client.invoke(`127.0.0.1:${fast}`, createRequest(RequestCode.GET_MAX_OFFSET, { topic: 'TBW102', queueId: 0 }), 3000);
    expect(r.code).toBe(ResponseCode.SUCCESS);
  });

  it('answers held pulls when shutting down', async () => {
    const broker = await startTestBroker();
    let stopped = false;
    cleanups.push(() => (stopped ? undefined : broker.stop()));
    const pending = broker.pull('TBW102', 0, 0, { sysFlag: 0x6, suspendTimeoutMillis: 30_000, timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    const closing = broker.controller.shutdown();
    const reply = await pending;
    expect(reply.code).toBe(ResponseCode.PULL_NOT_FOUND);
    await closing;
    await broker.stop();
    stopped = true;
  });

  it('refuses to start twice and reports the store only after start', async () => {
    const broker = await startTestBroker();
    cleanups.push(() => broker.stop());
    await expect(broker.controller.start()).rejects.toThrow(/cannot start/);
    expect(broker.controller.store).toBeDefined();
    expect(broker.controller.running).toBe(true);
  });
});
