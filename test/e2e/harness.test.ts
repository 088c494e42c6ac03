/**
 * The cross-process harness itself: the oracles agree with the protocol codec, the ali-ons scripts fail
 * cleanly without a server, and a rocketry child that cannot start is reported with its output.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMessageRecord, writeBlankRecord } from '../../broker/src/protocol/message-record';
import { startAliOnsConsumer, startAliOnsProducer } from '../helpers/ali-ons';
import { killAllChildren } from '../helpers/child-process';
import { freePort, tempDir } from '../helpers/env';
import { hostileFrame, Rng } from '../helpers/fuzz-frames';
import { crc32Positive, decodeRecords } from '../helpers/record-oracle';
import { startRocketryProcess } from '../helpers/rocketry-process';
import { javaHashCode, verifyStoreOffline } from '../helpers/store-oracle';

afterAll(async () => {
  await killAllChildren();
});

function record(topic: string, queueId: number, queueOffset: number, physicalOffset: number, key: string, tags: string): Buffer {
  return encodeMessageRecord({
    queueId,
    flag: 0,
    queueOffset,
    physicalOffset,
    sysFlag: 0,
    bornTimestamp: 1_700_000_000_000,
    bornHost: { host: '10.0.0.5', port: 40000 },
    storeTimestamp: 1_700_000_000_100,
    storeHost: { host: '127.0.0.1', port: 10911 },
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from(`body of ${key}`),
    topic,
    properties: { KEYS: key, TAGS: tags },
  });
}

describe('record and store oracles', () => {
  it('decode records written by the protocol codec, with CRC and offset msgId', () => {
    const a = record('T', 1, 7, 0, 'k1', 'TagA');
    const b = record('T', 2, 0, a.length, 'k2', 'TagB');
    const [ra, rb] = decodeRecords(Buffer.concat([a, b]));
    expect(ra!.topic).toBe('T');
    expect(ra!.queueOffset).toBe(7);
    expect(ra!.properties).toEqual({ KEYS: 'k1', TAGS: 'TagA' });
    expect(ra!.crcOk).toBe(true);
    expect(ra!.bodyCrc).toBe(crc32Positive(Buffer.from('body of k1')));
    expect(ra!.offsetMsgId).toBe('7F00000100002A9F0000000000000000');
    expect(rb!.physicalOffset).toBe(a.length);
    expect(rb!.bornHost).toBe('10.0.0.5:40000');
    // A flipped body byte is caught.
    const bad = Buffer.from(a);
    bad[bad.length - 30] = (bad[bad.length - 30] ?? 0) ^ 0xff;
    expect(decodeRecords(bad)[0]!.crcOk).toBe(false);
  });

  it('Java String.hashCode for tags', () => {
    // Known Java values: "hello".hashCode() and the famous Integer.MIN_VALUE string.
    expect(javaHashCode('hello')).toBe(99162322);
    expect(javaHashCode('polygenelubricants')).toBe(-2147483648);
    expect(javaHashCode('')).toBe(0);
  });

  it('the offline store check accepts a consistent store and reports a ConsumeQueue that disagrees', () => {
    const dir = tempDir('oracle');
    try {
      const root = dir.path;
      const seg = 4096;
      const r0 = record('T', 0, 0, 0, 'k0', 'TagA');
      const r1 = record('T', 0, 1, r0.length, 'k1', 'TagB');
      const file0 = Buffer.alloc(seg);
      r0.copy(file0, 0);
      r1.copy(file0, r0.length);
      writeBlankRecord(file0, r0.length + r1.length, seg - r0.length - r1.length);
      const r2 = record('T', 0, 2, seg, 'k2', 'TagA');
      const file1 = Buffer.alloc(seg);
      r2.copy(file1, 0);
      fs.mkdirSync(path.join(root, 'commitlog'), { recursive: true });
      fs.writeFileSync(path.join(root, 'commitlog', '00000000000000000000'), file0);
      fs.writeFileSync(path.join(root, 'commitlog', String(seg).padStart(20, '0')), file1);
      const cqDir = path.join(root, 'consumequeue', 'T', '0');
      fs.mkdirSync(cqDir, { recursive: true });
      const cq = Buffer.alloc(20 * 10);
      const put = (i: number, phy: number, size: number, tags: string) => {
        cq.writeBigInt64BE(BigInt(phy), i * 20);
        cq.writeInt32BE(size, i * 20 + 8);
        cq.writeBigInt64BE(BigInt(javaHashCode(tags)), i * 20 + 12);
      };
      put(0, 0, r0.length, 'TagA');
      put(1, r0.length, r1.length, 'TagB');
      put(2, seg, r2.length, 'TagA');
      const cqFile = path.join(cqDir, '00000000000000000000');
      fs.writeFileSync(cqFile, cq);
      const ok = verifyStoreOffline(root);
      expect(ok.problems).toEqual([]);
      expect(ok.scan.records.map((r) => r.properties.KEYS)).toEqual(['k0', 'k1', 'k2']);

      put(2, seg, r2.length, 'TagB'); // wrong tag hash
      fs.writeFileSync(cqFile, cq);
      expect(verifyStoreOffline(root).problems.join('\n')).toContain('tagsCode');
      cq.fill(0, 40); // entry 2 missing
      fs.writeFileSync(cqFile, cq);
      expect(verifyStoreOffline(root).problems.join('\n')).toContain('2 entries, CommitLog has 3 records');
    } finally {
      dir.cleanup();
    }
  });

  it('the fuzz generator is deterministic per seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    for (let i = 0; i < 200; i++) expect(hostileFrame(a).bytes.equals(hostileFrame(b).bytes)).toBe(true);
  });
});

describe('ali-ons scripts without a server', () => {
  it('the producer reports the failure and exits non-zero', async () => {
    const port = await freePort();
    const p = startAliOnsProducer({ nameSrv: `127.0.0.1:${port}`, topic: 'NOPE', count: 2 });
    await expect(p.finished(20_000)).rejects.toThrow(/exited with 1/);
    expect(p.errors().length).toBeGreaterThanOrEqual(1);
    expect(p.sent()).toEqual([]);
  }, 30_000);

  it('the consumer starts, gets nothing, and closes cleanly on SIGTERM', async () => {
    const port = await freePort();
    const c = startAliOnsConsumer({ nameSrv: `127.0.0.1:${port}`, group: 'G', topic: 'NOPE' });
    await c.ready();
    expect(c.clientId()).toMatch(/@\d+$/);
    const exit = await c.stop();
    expect(exit.code).toBe(0);
    expect(c.messages()).toEqual([]);
  }, 30_000);
});

describe('rocketry child processes', () => {
  it('a child that cannot start is reported with its output', async () => {
    await expect(
      startRocketryProcess({ mode: 'namesrv', args: ['--no-such-flag'], readyTimeoutMs: 20_000 }),
    ).rejects.toThrow(/did not become ready[\s\S]*no-such-flag/);
  }, 30_000);
});
