import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DefaultMessageStore } from './default-message-store';
import { RealStoreFs } from './fs/store-fs';
import { tempStoreDir, testMessage, testStoreConfig } from './store-test-helpers';
import type { MessageStoreConfig, PutMessageResult } from './types';

/** Real fs whose fdatasync can be held back; writes are counted (ConsumeQueue files apart). */
class GatedFs extends RealStoreFs {
  gateOpen = true;
  syncCalls = 0;
  writeCalls = 0;
  cqWriteCalls = 0;
  private readonly cqFds = new Set<number>();

  override open(p: string): number {
    const fd = super.open(p);
    if (p.includes('consumequeue')) this.cqFds.add(fd);
    else this.cqFds.delete(fd);
    return fd;
  }

  override write(fd: number, bufs: readonly Buffer[], position: number): void {
    this.writeCalls++;
    if (this.cqFds.has(fd)) this.cqWriteCalls++;
    super.write(fd, bufs, position);
  }
  private held: Array<() => void> = [];

  override async datasync(fd: number): Promise<void> {
    this.syncCalls++;
    if (!this.gateOpen) await new Promise<void>((resolve) => this.held.push(resolve));
    return super.datasync(fd);
  }

  heldCount(): number {
    return this.held.length;
  }

  releaseAll(open = true): void {
    this.gateOpen = open;
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('flush', () => {
  let dir: string;
  let store: DefaultMessageStore | undefined;
  let gated: GatedFs;

  beforeEach(() => {
    dir = tempStoreDir();
    gated = new GatedFs();
  });
  afterEach(async () => {
    gated.releaseAll(true);
    await store?.shutdown();
    store = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function open(overrides: Partial<MessageStoreConfig>): Promise<DefaultMessageStore> {
    // Long logics interval so only the CommitLog flush paths run during a test.
    store = new DefaultMessageStore(testStoreConfig(dir, overrides), { fs: gated, flushIntervalLogicsMs: 60_000 });
    await store.start();
    return store;
  }

  it('SYNC_FLUSH: puts resolve only after an fdatasync; a turn of puts shares one, the next turn waits for the next', async () => {
    const s = await open({ flushDiskType: 'SYNC_FLUSH' });
    gated.gateOpen = false;
    const settled: PutMessageResult[] = [];
    const firstTurn = Array.from({ length: 50 }, (_, i) => s.putMessage(testMessage('S', i % 4, `m${i}`)).then((r) => settled.push(r)));
    await tick();
    await tick();
    expect(s.stats.groupCommitSyncs).toBe(1);
    expect(gated.heldCount()).toBe(1); // one fdatasync for 50 puts
    // A second turn while the first fsync is running must wait for another one.
    const secondTurn = Array.from({ length: 10 }, (_, i) => s.putMessage(testMessage('S', 0, `n${i}`)).then((r) => settled.push(r)));
    await tick();
    await tick();
    expect(settled.length).toBe(0);
    expect(s.stats.groupCommitSyncs).toBe(1);
    gated.releaseAll(false); // finish fsync #1 only
    await Promise.all(firstTurn);
    expect(settled.length).toBe(50);
    expect(settled.every((r) => r.status === 'PUT_OK')).toBe(true);
    await tick();
    expect(s.stats.groupCommitSyncs).toBe(2);
    expect(settled.length).toBe(50); // second turn still waiting for fsync #2
    gated.releaseAll(true);
    await Promise.all(secondTurn);
    expect(settled.length).toBe(60);
    expect(s.stats.groupCommitSyncs).toBe(2);
    expect(s.getFlushedPhyOffset()).toBe(s.getMaxPhyOffset());
  });

  it('SYNC_FLUSH: a put not covered within syncFlushTimeoutMs gets FLUSH_DISK_TIMEOUT', async () => {
    const s = await open({ flushDiskType: 'SYNC_FLUSH', syncFlushTimeoutMs: 100 });
    gated.gateOpen = false;
    const started = Date.now();
    const r = await s.putMessage(testMessage('S', 0, 'slow'));
    expect(r.status).toBe('FLUSH_DISK_TIMEOUT');
    expect(r.appended.length).toBe(1); // stored, just not confirmed durable
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    gated.releaseAll(true);
    expect(s.getMessage('S', 0, 0, 1).status).toBe('FOUND');
  });

  it('ASYNC_FLUSH: puts resolve without waiting for fdatasync; the periodic flush makes them durable', async () => {
    const s = await open({ flushDiskType: 'ASYNC_FLUSH', flushIntervalCommitLogMs: 30 });
    gated.gateOpen = false;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.putMessage(testMessage('A', 0, `m${i}`))));
    expect(results.every((r) => r.status === 'PUT_OK')).toBe(true);
    expect(s.getFlushedPhyOffset()).toBeLessThan(s.getMaxPhyOffset());
    gated.releaseAll(true);
    const deadline = Date.now() + 2000;
    while (s.getFlushedPhyOffset() < s.getMaxPhyOffset() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.getFlushedPhyOffset()).toBe(s.getMaxPhyOffset());
    expect(s.stats.groupCommitSyncs).toBe(0);
  });

  it('writes all appends of one turn with one CommitLog write; CQ entries wait for a block, a read or the periodic flush', async () => {
    const s = await open({ flushDiskType: 'ASYNC_FLUSH', mappedFileSizeConsumeQueueEntries: 1024 });
    await s.putMessage(testMessage('W', 0, 'warm-up')); // creates the commitlog file
    for (let q = 0; q < 8; q++) await s.putMessage(testMessage('W', q, 'warm-up'));
    await s.flushLogics(); // and the CQ files
    const before = gated.writeCalls;
    await Promise.all(Array.from({ length: 100 }, (_, i) => s.putMessage(testMessage('W', i % 8, `m${i}`))));
    expect(gated.writeCalls - before).toBe(1);

    // A reader gets the entries it needs written first (one write for that queue only)...
    expect(s.getMessage('W', 3, 1, 32)).toMatchObject({ status: 'FOUND' });
    expect(gated.writeCalls - before).toBe(2);
    // ...and the periodic flush writes the rest (one write per queue still pending).
    await s.flushLogics();
    expect(gated.writeCalls - before).toBe(2 + 7 + 1);

    // A queue with a block (4 KiB) of entries pending writes them in the same turn as the CommitLog.
    const cqBefore = gated.cqWriteCalls;
    await Promise.all(Array.from({ length: 150 }, (_, i) => s.putMessage(testMessage('W', 0, `a${i}`))));
    expect(gated.cqWriteCalls - cqBefore).toBe(0);
    await Promise.all(Array.from({ length: 300 }, (_, i) => s.putMessage(testMessage('W', 1, `b${i}`))));
    expect(gated.cqWriteCalls - cqBefore).toBe(1);
  });
});
