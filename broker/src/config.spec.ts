import { describe, expect, it } from 'vitest';
import { messageStoreConfigOf } from './broker/broker-controller';
import { consumeQueueEntriesPerFile, defaultBrokerSettings, resolveBrokerSettings } from './config';

describe('mappedFileSizeConsumeQueue (compat: bytes, as in an Apache RocketMQ broker.conf)', () => {
  const host = { host: '127.0.0.1', port: 10911 };

  it('defaults to 6,000,000 bytes = 300,000 entries of 20 bytes, like RocketMQ', () => {
    const s = defaultBrokerSettings();
    expect(s.mappedFileSizeConsumeQueue).toBe(6_000_000);
    expect(messageStoreConfigOf(s, host).mappedFileSizeConsumeQueueEntries).toBe(300_000);
  });

  it('reads a broker.conf value as bytes and rounds up to whole entries (MessageStoreConfig)', () => {
    const s = resolveBrokerSettings({ mappedFileSizeConsumeQueue: '6000' });
    expect(messageStoreConfigOf(s, host).mappedFileSizeConsumeQueueEntries).toBe(300);
    expect(consumeQueueEntriesPerFile(6001)).toBe(301);
    expect(() => resolveBrokerSettings({ mappedFileSizeConsumeQueue: '100' })).toThrow(/mappedFileSizeConsumeQueue/);
  });
});
