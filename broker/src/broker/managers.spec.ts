import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultBrokerSettings, type BrokerSettings } from '../config';
import { Perm, SystemTopic } from './constants';
import { ConsumerOffsetManager } from './consumer-offset-manager';
import { SubscriptionGroupManager } from './subscription-group-manager';
import { TopicConfigManager, validateTopicName, isNotAllowedSendTopic } from './topic-config-manager';

let dir: string;
let settings: BrokerSettings;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-managers-'));
  settings = { ...defaultBrokerSettings(), storePathRootDir: dir, brokerName: 'broker-x', defaultTopicQueueNums: 4 };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('TopicConfigManager', () => {
  it('creates the system topics at start', () => {
    const m = new TopicConfigManager(settings);
    m.load();
    expect(m.selectTopicConfig('TBW102')).toMatchObject({ perm: 7, readQueueNums: 4, writeQueueNums: 4 });
    expect(m.selectTopicConfig(SystemTopic.SCHEDULE)?.writeQueueNums).toBe(18);
    expect(m.selectTopicConfig(SystemTopic.TRANS_HALF)?.writeQueueNums).toBe(1);
    expect(m.selectTopicConfig(SystemTopic.TRANS_OP_HALF)?.writeQueueNums).toBe(1);
    for (const t of ['SELF_TEST_TOPIC', 'DefaultCluster', 'broker-x', 'OFFSET_MOVED_EVENT', 'TRANS_CHECK_MAX_TIME_TOPIC']) {
      expect(m.selectTopicConfig(t), t).toBeDefined();
    }
    expect(fs.existsSync(path.join(dir, 'config', 'topics.json'))).toBe(true);
  });

  it('auto-creates from an INHERIT template, capped by its queues, and notifies', () => {
    const m = new TopicConfigManager(settings);
    m.load();
    const seen: string[] = [];
    m.onChange((c) => seen.push(...c.map((t) => t.topicName)));
    const before = m.dataVersion.counter;
    const tc = m.createTopicInSendMessageMethod('NewTopic', 'TBW102', '1.2.3.4:5', 8);
    expect(tc).toMatchObject({ readQueueNums: 4, writeQueueNums: 4, perm: Perm.READ | Perm.WRITE });
    expect(seen).toEqual(['NewTopic']);
    expect(m.dataVersion.counter).toBe(before + 1);
    expect(m.createTopicInSendMessageMethod('Other', 'SELF_TEST_TOPIC', 'x', 4)).toBeUndefined();
  });

  it('does not auto-create when autoCreateTopicEnable is off', () => {
    const m = new TopicConfigManager({ ...settings, autoCreateTopicEnable: false });
    m.load();
    expect(m.selectTopicConfig('TBW102')).toBeUndefined();
    expect(m.createTopicInSendMessageMethod('NewTopic', 'TBW102', 'x', 4)).toBeUndefined();
  });

  it('persists and reloads topics and the data version', () => {
    const m = new TopicConfigManager(settings);
    m.load();
    m.updateTopicConfig({ topicName: 'T1', readQueueNums: 3, writeQueueNums: 2, perm: 6, topicFilterType: 'MULTI_TAG', topicSysFlag: 0, order: true, attributes: {} });
    m.createTopicInSendMessageBackMethod('%RETRY%g', 1);
    const m2 = new TopicConfigManager(settings);
    m2.load();
    expect(m2.selectTopicConfig('T1')).toMatchObject({ readQueueNums: 3, writeQueueNums: 2, topicFilterType: 'MULTI_TAG', order: true });
    expect(m2.selectTopicConfig('%RETRY%g')).toMatchObject({ readQueueNums: 1, perm: 6 });
    expect(m2.dataVersion.counter).toBe(m.dataVersion.counter);
  });

  it('never creates topics with names that could escape the store directory, and bounds auto-creation', () => {
    const m = new TopicConfigManager(settings, { maxTopics: 12 });
    m.load();
    expect(() => m.createTopicInSendMessageBackMethod('%RETRY%../../x', 1)).toThrow(/illegal/);
    expect(() => m.updateTopicConfig({ ...m.selectTopicConfig('TBW102')!, topicName: 'a/b' })).toThrow(/illegal/);
    expect(m.createTopicInSendMessageMethod('a.b', 'TBW102', 'x', 4)).toBeUndefined();
    const before = m.allTopicConfigs().size;
    let created = 0;
    for (let i = 0; i < 20; i++) if (m.createTopicInSendMessageMethod(`Auto${i}`, 'TBW102', 'x', 4)) created++;
    expect(before + created).toBe(12);
  });

  it('validates topic names', () => {
    expect(validateTopicName('ok_topic-1|%')).toBeUndefined();
    expect(validateTopicName('')).toMatch(/blank/);
    expect(validateTopicName('bad topic')).toMatch(/illegal/);
    expect(validateTopicName('a'.repeat(127))).toBeUndefined();
    expect(validateTopicName('a'.repeat(128))).toMatch(/max length 127/);
    expect(validateTopicName('%RETRY%' + 'a'.repeat(200))).toBeUndefined();
    expect(validateTopicName('%DLQ%' + 'a'.repeat(251))).toMatch(/255/);
    expect(isNotAllowedSendTopic('SCHEDULE_TOPIC_XXXX')).toBe(true);
    expect(isNotAllowedSendTopic('TBW102')).toBe(false);
  });
});

describe('SubscriptionGroupManager', () => {
  it('auto-creates groups with RocketMQ defaults and persists them', () => {
    const m = new SubscriptionGroupManager(settings);
    m.load();
    expect(m.findSubscriptionGroupConfig('G1')).toMatchObject({ retryQueueNums: 1, retryMaxTimes: 16, consumeEnable: true, consumeBroadcastEnable: true });
    m.updateSubscriptionGroupConfig({ groupName: 'G2', retryMaxTimes: 3 });
    const m2 = new SubscriptionGroupManager(settings);
    m2.load();
    expect(m2.getSubscriptionGroupConfig('G1')).toBeDefined();
    expect(m2.getSubscriptionGroupConfig('G2')?.retryMaxTimes).toBe(3);
  });

  it('does not auto-create groups with invalid names', () => {
    const m = new SubscriptionGroupManager(settings);
    m.load();
    expect(m.findSubscriptionGroupConfig('../evil')).toBeUndefined();
    expect(m.findSubscriptionGroupConfig('g'.repeat(249))).toBeUndefined();
    expect(m.findSubscriptionGroupConfig('Good_Group-1')).toBeDefined();
  });

  it('returns undefined for unknown groups when auto-create is off', () => {
    const m = new SubscriptionGroupManager({ ...settings, autoCreateSubscriptionGroup: false });
    m.load();
    expect(m.findSubscriptionGroupConfig('G1')).toBeUndefined();
  });
});

describe('ConsumerOffsetManager', () => {
  it('commits, queries (negative = not found) and persists on shutdown', () => {
    const m = new ConsumerOffsetManager(dir);
    m.load();
    expect(m.queryOffset('G', 'T', 0)).toBe(-1);
    m.commitOffset('h', 'G', 'T', 0, 42);
    m.commitOffset('h', 'G', 'T', 1, -1);
    expect(m.queryOffset('G', 'T', 0)).toBe(42);
    expect(m.queryOffset('G', 'T', 1)).toBe(-1);
    m.shutdown();
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config', 'consumerOffset.json'), 'utf8')) as { offsetTable: Record<string, Record<string, number>> };
    expect(raw.offsetTable['T@G']).toEqual({ 0: 42, 1: -1 });
    const m2 = new ConsumerOffsetManager(dir);
    m2.load();
    expect(m2.queryOffset('G', 'T', 0)).toBe(42);
    expect([...m2.whichTopicByConsumer('G')]).toEqual(['T']);
    expect([...m2.whichGroupByTopic('T')]).toEqual(['G']);
  });

  it('persists periodically when dirty', async () => {
    const m = new ConsumerOffsetManager(dir, { persistIntervalMs: 20 });
    m.start();
    m.commitOffset('h', 'G', 'T', 0, 7);
    await new Promise((r) => setTimeout(r, 80));
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config', 'consumerOffset.json'), 'utf8')) as { offsetTable: Record<string, Record<string, number>> };
    expect(raw.offsetTable['T@G']?.['0']).toBe(7);
    m.shutdown();
  });
});
