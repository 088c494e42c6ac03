/**
 * The TCP proxy the fault suite uses to make Redis unavailable: it forwards, `cut('reset')` drops open
 * connections and refuses new ones, `cut('blackhole')` accepts but never answers, `restore()` forwards
 * again. Checked against a local echo server and against the real Redis through ioredis.
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/env';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

const REDIS_URL = process.env.ROCKETRY_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One request/answer over a fresh connection: resolves with the echo, or with the failure kind. */
function roundTrip(port: number, text: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, timeoutMs);
    let got = '';
    s.on('data', (b: Buffer) => {
      got += b.toString();
      if (got.length >= text.length) {
        clearTimeout(timer);
        s.end();
        resolve(got);
      }
    });
    s.on('error', () => {
      clearTimeout(timer);
      resolve('error');
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got.length > 0 ? got : 'closed');
    });
    s.write(text);
  });
}

describe('tcp-proxy helper', () => {
  let echo: net.Server;
  let proxy: TcpProxy;

  beforeAll(async () => {
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const port = (echo.address() as net.AddressInfo).port;
    proxy = await startTcpProxy({ host: '127.0.0.1', port });
  });

  afterAll(async () => {
    await proxy?.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('forwards, resets, blackholes and restores', async () => {
    expect(await roundTrip(proxy.port, 'hello')).toBe('hello');
    expect(proxy.stats.forwarded).toBe(1);

    proxy.cut('reset');
    expect(['error', 'closed']).toContain(await roundTrip(proxy.port, 'x'));
    proxy.restore();
    expect(await roundTrip(proxy.port, 'again')).toBe('again');

    proxy.cut('blackhole');
    expect(await roundTrip(proxy.port, 'void', 300)).toBe('timeout');
    proxy.restore();
    expect(await roundTrip(proxy.port, 'back')).toBe('back');
    expect(proxy.isCut).toBe(false);
  });

  it('an ioredis client through the proxy fails while cut and recovers after restore (real Redis)', async () => {
    const target = new URL(REDIS_URL);
    const redisProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const client = new Redis({ host: '127.0.0.1', port: redisProxy.port, maxRetriesPerRequest: 0, retryStrategy: () => 100, lazyConnect: true });
    try {
      await client.connect().catch((err: unknown) => {
        throw new Error(`Redis is unreachable at ${REDIS_URL} (through the proxy): ${(err as Error).message}`);
      });
      expect(await client.ping()).toBe('PONG');
      redisProxy.cut('reset');
      await expect(client.ping()).rejects.toThrow();
      redisProxy.restore();
      let answer = '';
      for (let i = 0; i < 50 && answer !== 'PONG'; i++) {
        answer = await client.ping().catch(() => '');
        if (answer !== 'PONG') await sleep(100);
      }
      expect(answer).toBe('PONG');
    } finally {
      client.disconnect();
      await redisProxy.close();
    }
  });
});
