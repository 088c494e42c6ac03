import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Producer } from '../client/producer/producer';
import { startEmbeddedBroker } from './embedded-broker';

function connectable(addr: string): Promise<boolean> {
  const [host, port] = addr.split(':');
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host!, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describe('startEmbeddedBroker', () => {
  it('runs a NameServer + Broker in process on free ports with a temp dir, removed by stop()', async () => {
    const a = await startEmbeddedBroker({ topics: [{ topic: 'EmbT', queueNums: 2 }] });
    const b = await startEmbeddedBroker();
    try {
      expect(a.namesrvAddr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(new Set([a.namesrvAddr, a.brokerAddr, b.namesrvAddr, b.brokerAddr]).size).toBe(4);
      expect(fs.existsSync(a.dataDir)).toBe(true);
      const p = new Producer({ namesrvAddr: a.namesrvAddr, group: 'emb-pg' });
      await p.start();
      try {
        expect((await p.fetchPublishMessageQueues('EmbT')).length).toBe(2);
        expect((await p.send({ topic: 'EmbT', body: 'x' })).status).toBe('SEND_OK');
      } finally {
        await p.shutdown();
      }
    } finally {
      await a.stop();
      await a.stop(); // idempotent
      await b.stop();
    }
    expect(fs.existsSync(a.dataDir)).toBe(false);
    expect(await connectable(a.namesrvAddr)).toBe(false);
    expect(await connectable(a.brokerAddr)).toBe(false);
  });
});
