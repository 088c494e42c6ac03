import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock';
import type { Channel } from '../remoting/types';
import { RouteInfoManager, type RegisterBrokerInput } from './route-info-manager';

function fakeChannel(id: string): Channel & { closedWith?: string } {
  const ch = {
    id,
    remoteAddress: id,
    remoteHost: '127.0.0.1',
    remotePort: 1,
    localAddress: '127.0.0.1:9876',
    closed: false,
    lastActiveAt: 0,
    closedWith: undefined as string | undefined,
    write: () => undefined,
    invoke: () => Promise.reject(new Error('not used')),
    invokeOneway: () => undefined,
    close(reason?: string) {
      ch.closedWith = reason ?? 'closed';
    },
  };
  return ch;
}

function input(overrides: Partial<RegisterBrokerInput> & { topics?: string[] } = {}): RegisterBrokerInput {
  const { topics = ['T'], ...rest } = overrides;
  return {
    clusterName: 'C',
    brokerName: 'broker-a',
    brokerId: 0,
    brokerAddr: '10.0.0.1:10911',
    haServerAddr: '10.0.0.1:10912',
    topicConfigTable: Object.fromEntries(topics.map((t) => [t, { topicName: t, readQueueNums: 4, writeQueueNums: 4, perm: 6 }])),
    dataVersion: { timestamp: 1, counter: 1 },
    ...rest,
  };
}

describe('RouteInfoManager', () => {
  it('expires brokers by heartbeat timeout on scan, closing their channel', () => {
    const clock = new ManualClock(1_000);
    const routes = new RouteInfoManager({ brokerChannelExpiredTimeMs: 120_000, clock });
    const ch = fakeChannel('a');
    routes.registerBroker(input({ channel: ch }));
    routes.registerBroker(input({ brokerName: 'broker-b', brokerAddr: '10.0.0.2:10911', heartbeatTimeoutMillis: 10_000 }));
    clock.advance(10_001);
    expect(routes.scanNotActiveBroker()).toBe(1); // broker-b has its own shorter timeout
    expect(routes.pickupTopicRouteData('T')!.brokerDatas.map((b) => b.brokerName)).toEqual(['broker-a']);
    clock.advance(110_000);
    expect(routes.scanNotActiveBroker()).toBe(1);
    expect(ch.closedWith).toBe('broker expired');
    expect(routes.pickupTopicRouteData('T')).toBeUndefined();
    expect(routes.getClusterInfo()).toEqual({ brokerAddrTable: {}, clusterAddrTable: {} });
  });

  it('only a master registration updates queue data', () => {
    const routes = new RouteInfoManager({ brokerChannelExpiredTimeMs: 120_000 });
    routes.registerBroker(input({ topics: ['T'] }));
    routes.registerBroker(input({ brokerId: 1, brokerAddr: '10.0.0.9:10911', topics: ['FromSlave'] }));
    expect(routes.pickupTopicRouteData('FromSlave')).toBeUndefined();
    // Applied even with an unchanged data version (more forgiving than Java).
    routes.registerBroker(input({ topics: ['T', 'New'] }));
    expect(routes.pickupTopicRouteData('New')!.queueDatas).toEqual([{ brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0 }]);
  });

  it('a slave promoted on the same address drops its old id; a slave alone keeps the topic readable', () => {
    const routes = new RouteInfoManager({ brokerChannelExpiredTimeMs: 120_000 });
    routes.registerBroker(input());
    const slave = fakeChannel('slave');
    routes.registerBroker(input({ brokerId: 1, brokerAddr: '10.0.0.2:10911', channel: slave }));
    routes.unregisterBroker('C', '10.0.0.1:10911', 'broker-a', 0);
    expect(routes.pickupTopicRouteData('T')!.brokerDatas[0]!.brokerAddrs).toEqual({ 1: '10.0.0.2:10911' });
    routes.registerBroker(input({ brokerId: 0, brokerAddr: '10.0.0.2:10911', dataVersion: { timestamp: 2, counter: 1 } }));
    expect(routes.pickupTopicRouteData('T')!.brokerDatas[0]!.brokerAddrs).toEqual({ 0: '10.0.0.2:10911' });
  });

  it('channel close removes only the broker registered over that channel', () => {
    const routes = new RouteInfoManager({ brokerChannelExpiredTimeMs: 120_000 });
    const a = fakeChannel('a');
    const b = fakeChannel('b');
    routes.registerBroker(input({ channel: a, topics: ['T', 'A'] }));
    routes.registerBroker(input({ brokerName: 'broker-b', brokerAddr: '10.0.0.2:10911', channel: b, topics: ['T'] }));
    routes.onChannelDestroy(a);
    expect(routes.pickupTopicRouteData('A')).toBeUndefined();
    expect(routes.getAllTopics()).toEqual(['T']);
    expect(routes.getTopicsByCluster('C')).toEqual(['T']);
    expect(routes.liveBrokers().map((l) => l.brokerAddr)).toEqual(['10.0.0.2:10911']);
  });
});
