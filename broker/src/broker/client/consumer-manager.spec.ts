import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock';
import { RequestCode } from '../../protocol/request-code';
import { buildSubscriptionData } from '../../protocol/subscription';
import type { Channel } from '../../remoting/types';
import { ClientHousekeepingService } from './client-housekeeping.service';
import { ConsumerIdsChangeNotifier } from './consumer-ids-change-notifier';
import { ConsumerManager, type ConsumerIdsChangeListener, type ConsumerRegistration } from './consumer-manager';
import { FakeChannel } from './fake-channel.test-support';
import { ProducerManager } from './producer-manager';

class RecordingListener implements ConsumerIdsChangeListener {
  readonly changes: Array<{ group: string; channels: string[] }> = [];
  readonly unregistered: string[] = [];
  onConsumerIdsChanged(group: string, channels: readonly Channel[]): void {
    this.changes.push({ group, channels: channels.map((c) => c.id).sort() });
  }
  onGroupUnregistered(group: string): void {
    this.unregistered.push(group);
  }
}

function reg(channel: Channel, clientId: string, overrides: Partial<ConsumerRegistration> = {}): ConsumerRegistration {
  return {
    group: 'CG',
    channel,
    clientId,
    language: 'JAVA',
    version: 401,
    consumeType: 'CONSUME_PASSIVELY',
    messageModel: 'CLUSTERING',
    consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
    subscriptions: [buildSubscriptionData('T', 'TagA', 100), buildSubscriptionData('%RETRY%CG', '*', 100)],
    ...overrides,
  };
}

describe('ConsumerManager', () => {
  it('notifies every channel of the group when a consumer joins, and not on a plain refresh', () => {
    const listener = new RecordingListener();
    const cm = new ConsumerManager({ listener });
    const a = new FakeChannel('a');
    const b = new FakeChannel('b');

    expect(cm.registerConsumer(reg(a, 'ip@1'))).toEqual({ accepted: true, changed: true });
    expect(listener.changes).toEqual([{ group: 'CG', channels: ['a'] }]);

    // Same heartbeat again: nothing changed, nobody is told.
    expect(cm.registerConsumer(reg(a, 'ip@1'))).toEqual({ accepted: true, changed: false });
    expect(listener.changes).toHaveLength(1);

    expect(cm.registerConsumer(reg(b, 'ip@2')).accepted).toBe(true);
    expect(listener.changes[1]).toEqual({ group: 'CG', channels: ['a', 'b'] });
    expect(cm.getAllClientIds('CG').sort()).toEqual(['ip@1', 'ip@2']);
    expect(cm.findChannel('CG', 'ip@2')?.channel).toBe(b);
    expect(cm.findSubscriptionData('CG', 'T')?.tagsSet).toEqual(['TagA']);
  });

  it('sends oneway NOTIFY_CONSUMER_IDS_CHANGED with the group to each member through the notifier', () => {
    const cm = new ConsumerManager({ listener: new ConsumerIdsChangeNotifier() });
    const a = new FakeChannel();
    const b = new FakeChannel();
    cm.registerConsumer(reg(a, 'ip@1'));
    cm.registerConsumer(reg(b, 'ip@2'));
    // a: notified on its own join and on b's join; b: on its join.
    expect(a.oneways).toHaveLength(2);
    expect(b.oneways).toHaveLength(1);
    for (const cmd of [...a.oneways, ...b.oneways]) {
      expect(cmd.code).toBe(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED);
      expect(cmd.flag & 0x2).toBe(0x2);
      expect(cmd.extFields).toEqual({ consumerGroup: 'CG' });
    }
    // A leaving member triggers a notify to those who remain.
    cm.doChannelCloseEvent(b);
    expect(a.oneways).toHaveLength(3);
    expect(b.oneways).toHaveLength(1);
  });

  it('applies subscriptions by subVersion: newer replaces, older is ignored, removed topics notify', () => {
    const listener = new RecordingListener();
    const cm = new ConsumerManager({ listener });
    const a = new FakeChannel('a');
    cm.registerConsumer(reg(a, 'ip@1'));
    expect(listener.changes).toHaveLength(1);

    // Older version with another expression: ignored, no notify.
    cm.registerConsumer(reg(a, 'ip@1', { subscriptions: [buildSubscriptionData('T', 'TagB', 50), buildSubscriptionData('%RETRY%CG', '*', 100)] }));
    expect(cm.findSubscriptionData('CG', 'T')?.subString).toBe('TagA');
    expect(listener.changes).toHaveLength(1);

    // Newer version with another expression: replaces and notifies.
    cm.registerConsumer(reg(a, 'ip@1', { subscriptions: [buildSubscriptionData('T', 'TagB', 200), buildSubscriptionData('%RETRY%CG', '*', 100)] }));
    expect(cm.findSubscriptionData('CG', 'T')).toMatchObject({ subString: 'TagB', subVersion: 200 });
    expect(listener.changes).toHaveLength(2);

    // Newer version, same expression: the version moves on, but it is not a change.
    cm.registerConsumer(reg(a, 'ip@1', { subscriptions: [buildSubscriptionData('T', 'TagB', 300), buildSubscriptionData('%RETRY%CG', '*', 100)] }));
    expect(cm.findSubscriptionData('CG', 'T')?.subVersion).toBe(300);
    expect(listener.changes).toHaveLength(2);

    // A topic dropped from the heartbeat is removed and notifies.
    cm.registerConsumer(reg(a, 'ip@1', { subscriptions: [buildSubscriptionData('%RETRY%CG', '*', 100)] }));
    expect(cm.findSubscriptionData('CG', 'T')).toBeUndefined();
    expect(listener.changes).toHaveLength(3);
  });

  it('a registration without subscriptions (5.x withoutSub) refreshes the channel and keeps the stored set', () => {
    const cm = new ConsumerManager();
    const a = new FakeChannel('a');
    cm.registerConsumer(reg(a, 'ip@1'));
    expect(cm.registerConsumer(reg(a, 'ip@1', { subscriptions: undefined }))).toEqual({ accepted: true, changed: false });
    expect(cm.findSubscriptionData('CG', 'T')?.subString).toBe('TagA');
  });

  it('unregister removes the member, notifies the rest, and drops an empty group', () => {
    const listener = new RecordingListener();
    const cm = new ConsumerManager({ listener });
    const a = new FakeChannel('a');
    const b = new FakeChannel('b');
    cm.registerConsumer(reg(a, 'ip@1'));
    cm.registerConsumer(reg(b, 'ip@2'));
    expect(cm.unregisterConsumer('CG', a, 'ip@1')).toBe(true);
    expect(listener.changes.at(-1)).toEqual({ group: 'CG', channels: ['b'] });
    // Unknown channel but known client id (unregister over another connection) still works.
    expect(cm.unregisterConsumer('CG', new FakeChannel(), 'ip@2')).toBe(true);
    expect(cm.getConsumerGroupInfo('CG')).toBeUndefined();
    expect(listener.unregistered).toEqual(['CG']);
    expect(cm.unregisterConsumer('CG', a, 'ip@1')).toBe(false);
  });

  it('a closed channel leaves every group it was in at once', () => {
    const listener = new RecordingListener();
    const cm = new ConsumerManager({ listener });
    const a = new FakeChannel('a');
    const b = new FakeChannel('b');
    cm.registerConsumer(reg(a, 'ip@1', { group: 'G1' }));
    cm.registerConsumer(reg(a, 'ip@1', { group: 'G2' }));
    cm.registerConsumer(reg(b, 'ip@2', { group: 'G2' }));
    listener.changes.length = 0;
    expect(cm.doChannelCloseEvent(a)).toBe(true);
    expect(cm.getConsumerGroupInfo('G1')).toBeUndefined();
    expect(cm.getAllClientIds('G2')).toEqual(['ip@2']);
    expect(listener.changes).toEqual([{ group: 'G2', channels: ['b'] }]);
    expect(cm.doChannelCloseEvent(a)).toBe(false);
  });

  it('expires channels idle longer than channelExpiredTimeout (ManualClock) and closes them', () => {
    const clock = new ManualClock(1_000_000);
    const listener = new RecordingListener();
    const cm = new ConsumerManager({ clock, listener, channelExpiredTimeoutMs: 120_000 });
    const a = new FakeChannel('a');
    const b = new FakeChannel('b');
    cm.registerConsumer(reg(a, 'ip@1'));
    cm.registerConsumer(reg(b, 'ip@2'));
    clock.advance(60_000);
    cm.registerConsumer(reg(b, 'ip@2')); // b heartbeats, a does not
    clock.advance(60_000);
    expect(cm.scanNotActiveChannel()).toBe(0); // a idle exactly 120 s: not yet
    clock.advance(1);
    listener.changes.length = 0;
    expect(cm.scanNotActiveChannel()).toBe(1);
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(false);
    expect(cm.getAllClientIds('CG')).toEqual(['ip@2']);
    expect(listener.changes).toEqual([{ group: 'CG', channels: ['b'] }]);
    clock.advance(120_000);
    expect(cm.scanNotActiveChannel()).toBe(1);
    expect(cm.getConsumerGroupInfo('CG')).toBeUndefined();
  });

  it('refuses registrations beyond its table bounds', () => {
    const cm = new ConsumerManager({ maxGroups: 1, maxChannelsPerGroup: 1, maxSubscriptionsPerGroup: 1 });
    expect(cm.registerConsumer(reg(new FakeChannel(), 'x', { subscriptions: [] })).accepted).toBe(true);
    expect(cm.registerConsumer(reg(new FakeChannel(), 'y', { subscriptions: [] })).accepted).toBe(false);
    expect(cm.registerConsumer(reg(new FakeChannel(), 'z', { group: 'OTHER', subscriptions: [] })).accepted).toBe(false);
    expect(cm.registerConsumer(reg(new FakeChannel(), 'w')).accepted).toBe(false); // 2 subscriptions > 1
  });
});

describe('ProducerManager + ClientHousekeepingService', () => {
  it('tracks producers, hands out live channels, expires idle ones and drops closed ones', () => {
    const clock = new ManualClock(0);
    const pm = new ProducerManager({ clock, channelExpiredTimeoutMs: 120_000 });
    const cm = new ConsumerManager({ clock, channelExpiredTimeoutMs: 120_000 });
    const hk = new ClientHousekeepingService({ consumerManager: cm, producerManager: pm });
    const a = new FakeChannel('a');
    const b = new FakeChannel('b');
    expect(pm.registerProducer('PG', { channel: a, clientId: 'ip@1', language: 'JAVA', version: 401 })).toBe(true);
    pm.registerProducer('PG', { channel: b, clientId: 'ip@2', language: 'JAVA', version: 401 });
    const picked = new Set([pm.getAvailableChannel('PG'), pm.getAvailableChannel('PG')]);
    expect(picked).toEqual(new Set([a, b]));

    hk.onChannelClose(a);
    expect(pm.getGroupChannels('PG').map((c) => c.clientId)).toEqual(['ip@2']);
    expect(pm.getAvailableChannel('PG')).toBe(b);

    clock.advance(120_001);
    hk.scanExpired();
    expect(b.closed).toBe(true);
    expect(pm.getAvailableChannel('PG')).toBeUndefined();
    expect(pm.groupNames()).toEqual([]);
  });

  it('unregisters a producer by channel or client id', () => {
    const pm = new ProducerManager();
    const a = new FakeChannel();
    pm.registerProducer('PG', { channel: a, clientId: 'ip@1', language: 'JAVA', version: 401 });
    expect(pm.unregisterProducer('PG', new FakeChannel(), 'ip@1')).toBe(true);
    expect(pm.getAvailableChannel('PG')).toBeUndefined();
  });
});
