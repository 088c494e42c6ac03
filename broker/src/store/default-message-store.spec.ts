import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock';
import { MessageSysFlag } from '../protocol/message-const';
import { BLANK_MAGIC_CODE, MESSAGE_MAGIC_CODE_V2, decodeMessageRecord, decodeMessageRecords } from '../protocol/message-record';
import { createOffsetMessageId } from '../protocol/message-id';
import { javaStringHashCode } from '../protocol/tag-hash';
import { DefaultMessageStore, joinRecords, StoreInUseError } from './default-message-store';
import { testMessage, testStoreConfig, useTempStore } from './store-test-helpers';
import type { DispatchEvent } from './types';

describe('DefaultMessageStore', () => {
  const env = useTempStore();
  const { open } = env;

  it('appends and reads across a segment roll with a BLANK record', async () => {
    const s = await open({ mappedFileSizeCommitLog: 4096 });
    const body = Buffer.alloc(300, 'x');
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await s.putMessage(testMessage('TopicA', 0, body, { TAGS: 'a', KEYS: `k${i}` })));
    expect(results.every((r) => r.status === 'PUT_OK')).toBe(true);
    const files = fs.readdirSync(path.join(env.dir, 'commitlog')).sort();
    expect(files.length).toBeGreaterThan(2);
    expect(files[0]).toBe('00000000000000000000');
    expect(files[1]).toBe('00000000000000004096');
    for (const f of files) expect(fs.statSync(path.join(env.dir, 'commitlog', f)).size).toBe(4096); // preallocated

    // The first file ends with a BLANK record covering the rest of it.
    const first = fs.readFileSync(path.join(env.dir, 'commitlog', files[0]!));
    const offsetsInFirst = results.map((r) => r.appended[0]!).filter((a) => a.physicalOffset < 4096);
    const lastInFirst = offsetsInFirst[offsetsInFirst.length - 1]!;
    const blankAt = lastInFirst.physicalOffset + lastInFirst.wroteBytes;
    expect(first.readUInt32BE(blankAt + 4)).toBe(BLANK_MAGIC_CODE);
    expect(first.readInt32BE(blankAt)).toBe(4096 - blankAt);

    // Records never span files; physical offsets and msgIds are right; reads see everything.
    for (const [i, r] of results.entries()) {
      const a = r.appended[0]!;
      expect(a.queueOffset).toBe(i);
      expect(Math.floor(a.physicalOffset / 4096)).toBe(Math.floor((a.physicalOffset + a.wroteBytes - 1) / 4096));
      expect(a.msgId).toBe(createOffsetMessageId({ host: '127.0.0.1', port: 10911 }, a.physicalOffset));
      const rec = s.lookMessageByOffset(a.physicalOffset)!;
      expect(rec.physicalOffset).toBe(a.physicalOffset);
      expect(rec.queueOffset).toBe(i);
      expect(rec.properties.KEYS).toBe(`k${i}`);
      expect(rec.body.equals(body)).toBe(true);
    }
    const got = s.getMessage('TopicA', 0, 0, 32);
    expect(got.status).toBe('FOUND');
    expect(got.records.length).toBe(30);
    const decoded = decodeMessageRecords(Buffer.concat(got.records), { verifyCrc: true });
    expect(decoded.map((m) => m.queueOffset)).toEqual([...Array(30).keys()]);
    expect(got.nextBeginOffset).toBe(30);
    expect(s.verifyConsistency()).toMatchObject({ ok: true, records: 30, cqEntries: 30 });
  });

  it('makes appended data readable in the same turn, before the batched write', async () => {
    const s = await open();
    const p = s.putMessage(testMessage('T', 1, 'hello'));
    // not awaited yet: the turn has not been written
    const got = s.getMessage('T', 1, 0, 1);
    expect(got.status).toBe('FOUND');
    expect(decodeMessageRecord(got.records[0]!).record.body.toString()).toBe('hello');
    expect((await p).status).toBe('PUT_OK');
  });

  it('assigns consecutive queue offsets to a batch and to concurrent puts', async () => {
    const s = await open();
    const batch = [0, 1, 2, 3].map((i) => testMessage('B', 2, `m${i}`, { UNIQ_KEY: `U${i}` }));
    const single = s.putMessage(testMessage('B', 2, 'first'));
    const r = await s.putMessages(batch);
    expect((await single).appended[0]!.queueOffset).toBe(0);
    expect(r.status).toBe('PUT_OK');
    expect(r.appended.map((a) => a.queueOffset)).toEqual([1, 2, 3, 4]);
    for (let i = 1; i < r.appended.length; i++) {
      expect(r.appended[i]!.physicalOffset).toBe(r.appended[i - 1]!.physicalOffset + r.appended[i - 1]!.wroteBytes);
    }
    expect(s.getMaxOffsetInQueue('B', 2)).toBe(5);
    expect(s.getMinOffsetInQueue('B', 2)).toBe(0);
    expect(s.listQueues()).toEqual([{ topic: 'B', queueId: 2 }]);
    const mixed = await s.putMessages([testMessage('B', 2, 'x'), testMessage('B', 3, 'y')]);
    expect(mixed.status).toBe('MESSAGE_ILLEGAL');
  });

  it('filters by CQ tagsCode and reports pull statuses like RocketMQ 4.9.7', async () => {
    const s = await open();
    for (let i = 0; i < 10; i++) await s.putMessage(testMessage('F', 0, `m${i}`, { TAGS: i % 2 === 0 ? 'even' : 'odd' }));
    const evenHash = javaStringHashCode('even');
    const filter = { isMatchedByConsumeQueue: (code: number) => code === evenHash };
    const got = s.getMessage('F', 0, 0, 32, filter);
    expect(got.status).toBe('FOUND');
    expect(decodeMessageRecords(Buffer.concat(got.records)).map((m) => m.body.toString())).toEqual(['m0', 'm2', 'm4', 'm6', 'm8']);
    expect(got.nextBeginOffset).toBe(10);
    // exact filter on the CommitLog properties as a second stage
    const byProps = s.getMessage('F', 0, 0, 32, { isMatchedByConsumeQueue: () => true, isMatchedByCommitLog: (p) => p.TAGS === 'odd' });
    expect(byProps.records.length).toBe(5);
    // Records are read straight into one body; dropped ones are squeezed out of it.
    expect(decodeMessageRecords(joinRecords(byProps.records, byProps.totalBytes)).map((m) => m.body.toString())).toEqual(['m1', 'm3', 'm5', 'm7', 'm9']);
    expect(new Set(byProps.records.map((r) => r.buffer)).size).toBe(1);
    const bounded = s.getMessage('F', 0, 2, 3);
    expect(decodeMessageRecords(joinRecords(bounded.records, bounded.totalBytes)).map((m) => m.body.toString())).toEqual(['m2', 'm3', 'm4']);
    const none = s.getMessage('F', 0, 0, 32, { isMatchedByConsumeQueue: () => false });
    expect(none).toMatchObject({ status: 'NO_MATCHED_MESSAGE', nextBeginOffset: 10 });
    expect(s.getMessage('F', 0, 3, 2)).toMatchObject({ status: 'FOUND', nextBeginOffset: 5, minOffset: 0, maxOffset: 10 });
    expect(s.getMessage('F', 0, 10, 32)).toMatchObject({ status: 'OFFSET_OVERFLOW_ONE', nextBeginOffset: 10 });
    expect(s.getMessage('F', 0, 15, 32)).toMatchObject({ status: 'OFFSET_OVERFLOW_BADLY', nextBeginOffset: 0 });
    expect(s.getMessage('F', 9, 0, 32)).toMatchObject({ status: 'NO_MATCHED_LOGIC_QUEUE', nextBeginOffset: 0 });
    // the tagsCode in the CQ is the Java hash (sign-extended), checked through dispatch events too
    expect(javaStringHashCode('odd')).not.toBe(evenHash);
  });

  it('caps a pull at 32 messages', async () => {
    const s = await open();
    await s.putMessages(Array.from({ length: 40 }, (_, i) => testMessage('C', 0, `m${i}`)));
    const got = s.getMessage('C', 0, 0, 64);
    expect(got.records.length).toBe(32);
    expect(got.nextBeginOffset).toBe(32);
  });

  it('finds offsets by store time with nearest semantics', async () => {
    const clock = new ManualClock(1_000_000);
    const s = await open({}, { clock });
    for (let i = 0; i < 10; i++) {
      clock.set(1_000_000 + i * 1000); // store times 1,000,000 + 0..9 s
      await s.putMessage(testMessage('TT', 0, `m${i}`));
    }
    expect(s.getOffsetInQueueByTime('TT', 0, 1_003_000)).toBe(3); // exact
    expect(s.getOffsetInQueueByTime('TT', 0, 1_003_200)).toBe(3); // nearer left
    expect(s.getOffsetInQueueByTime('TT', 0, 1_003_800)).toBe(4); // nearer right
    expect(s.getOffsetInQueueByTime('TT', 0, 0)).toBe(0); // before everything
    expect(s.getOffsetInQueueByTime('TT', 0, 9_999_999)).toBe(9); // after everything: last entry
    expect(s.getOffsetInQueueByTime('none', 0, 5)).toBe(0);
    expect(s.getMessageStoreTimestamp('TT', 0, 4)).toBe(1_004_000);
    expect(s.getEarliestMessageTime('TT', 0)).toBe(1_000_000);
    expect(s.getMessageStoreTimestamp('TT', 0, 99)).toBe(-1);
  });

  it('queries the index by key within a time window, several keys per message, across index files', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const s = await open({ maxIndexNum: 16, maxHashSlotNum: 8 }, { clock });
    const stored: number[] = [];
    for (let i = 0; i < 20; i++) {
      clock.advance(10_000);
      const r = await s.putMessage(testMessage('Q', i % 2, `m${i}`, { KEYS: `order-${i} common`, UNIQ_KEY: `UNIQ${i}` }));
      stored.push(r.appended[0]!.physicalOffset);
    }
    expect(s.fileCounts().index).toBeGreaterThan(1); // 20 msgs x 3 keys in 15-entry files
    const one = s.queryMessage('Q', 'order-7', 32, 0, Number.MAX_SAFE_INTEGER);
    expect(one.records.length).toBe(1);
    expect(decodeMessageRecord(one.records[0]!).record.body.toString()).toBe('m7');
    expect(s.queryMessage('Q', 'UNIQ12', 32, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(1);
    const all = s.queryMessage('Q', 'common', 100, 0, Number.MAX_SAFE_INTEGER);
    expect(all.records.map((b) => decodeMessageRecord(b).record.body.toString())).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${19 - i}`), // newest first
    );
    // time window: messages 5..9 were stored at base + 60 s .. base + 100 s
    const base = 1_700_000_000_000;
    const windowed = s.queryMessage('Q', 'common', 100, base + 60_000, base + 100_000);
    expect(windowed.records.map((b) => decodeMessageRecord(b).record.body.toString()).sort()).toEqual(['m5', 'm6', 'm7', 'm8', 'm9']);
    expect(s.queryMessage('Q', 'common', 3, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(3);
    expect(s.queryMessage('Other', 'common', 3, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(0);
    expect(s.queryMessage('Q', 'missing', 3, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(0);
    expect(s.verifyConsistency().ok).toBe(true);
  });

  it('enforces size limits and writes V2 records for long topics', async () => {
    const s = await open({ maxMessageSize: 1024 });
    expect((await s.putMessage(testMessage('L', 0, Buffer.alloc(1025)))).status).toBe('MESSAGE_ILLEGAL');
    expect((await s.putMessage(testMessage('L', 0, Buffer.alloc(1024)))).status).toBe('PUT_OK');
    expect((await s.putMessage(testMessage('L', 0, 'x', { BIG: 'v'.repeat(33000) }))).status).toBe('PROPERTIES_SIZE_EXCEEDED');
    expect((await s.putMessage(testMessage('t'.repeat(256), 0, 'x'))).status).toBe('MESSAGE_ILLEGAL');
    const long = 't'.repeat(200);
    const r = await s.putMessage(testMessage(long, 0, 'x'));
    expect(r.status).toBe('PUT_OK');
    const rec = s.lookMessageByOffset(r.appended[0]!.physicalOffset)!;
    expect(rec.magic).toBe(MESSAGE_MAGIC_CODE_V2);
    expect(rec.topic).toBe(long);
  });

  it('rejects properties that would decode from the record as other properties (fuzz seed 1215281417)', async () => {
    const s = await open();
    // A producer group smuggled into PGROUP carried "\u0002TAGS\u0001..": the record then decoded with a TAGS
    // the ConsumeQueue tagsCode was not computed from.
    const injected = await s.putMessage(testMessage('P', 0, 'x', { PGROUP: 'k\u0001v\u0002TAGS\u0001evil\u0002' }));
    expect(injected).toMatchObject({ status: 'MESSAGE_ILLEGAL', reason: expect.stringContaining('PGROUP') });
    expect((await s.putMessage(testMessage('P', 0, 'x', { 'A\u0001B': 'v' }))).status).toBe('MESSAGE_ILLEGAL');
    expect((await s.putMessage(testMessage('P', 0, 'x', { TAGS: '_\ude00c' }))).status).toBe('MESSAGE_ILLEGAL');
    const ok = await s.putMessage(testMessage('P', 0, 'x', { TAGS: 'T\u{1F600}', KEYS: 'a\u0001b' }));
    expect(ok.status).toBe('PUT_OK');
    expect(s.lookMessageByOffset(ok.appended[0]!.physicalOffset)!.properties).toMatchObject({ TAGS: 'T\u{1F600}', KEYS: 'a\u0001b' });
    expect(s.getMaxOffsetInQueue('P', 0)).toBe(1);
    expect(s.verifyConsistency().ok).toBe(true);
  });

  it('dispatches SCHEDULE_TOPIC_XXXX with the due time as tagsCode and skips PREPARED/ROLLBACK', async () => {
    const clock = new ManualClock(5_000_000);
    const s = await open({ messageDelayLevel: '1s 5s 10s' }, { clock });
    const events: DispatchEvent[] = [];
    const off = s.onDispatch((e) => events.push(e));
    await s.putMessage(testMessage('SCHEDULE_TOPIC_XXXX', 1, 'd', { DELAY: '2' }));
    await s.putMessage(testMessage('SCHEDULE_TOPIC_XXXX', 2, 'd', { DELAY: '9' })); // clamped to the last level
    const prepared = await s.putMessage(testMessage('TX', 0, 'half', { KEYS: 'p' }, { sysFlag: MessageSysFlag.TRANSACTION_PREPARED_TYPE }));
    const rollback = await s.putMessage(testMessage('TX', 0, 'rb', { KEYS: 'r' }, { sysFlag: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE }));
    const commit = await s.putMessage(testMessage('TX', 0, 'ok', { KEYS: 'c' }, { sysFlag: MessageSysFlag.TRANSACTION_COMMIT_TYPE }));
    off();
    await s.putMessage(testMessage('TX', 0, 'after-unsubscribe'));
    expect(events.map((e) => [e.topic, e.queueId, e.tagsCode])).toEqual([
      ['SCHEDULE_TOPIC_XXXX', 1, 5_005_000],
      ['SCHEDULE_TOPIC_XXXX', 2, 5_010_000],
      ['TX', 0, 0],
    ]);
    expect(prepared.status).toBe('PUT_OK');
    expect(prepared.appended[0]!.queueOffset).toBe(0);
    expect(commit.appended[0]!.queueOffset).toBe(0);
    expect(s.getMaxOffsetInQueue('TX', 0)).toBe(2);
    expect(s.queryMessage('TX', 'p', 5, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(1);
    expect(s.queryMessage('TX', 'r', 5, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(0);
    expect(s.lookMessageByOffset(rollback.appended[0]!.physicalOffset)?.body.toString()).toBe('rb');
    expect(s.verifyConsistency().ok).toBe(true);
  });

  it('refuses writes while the disk is over the ratio and recovers', async () => {
    let used = 0.5;
    const s = await open({ diskMaxUsedSpaceRatio: 80 }, { diskUsedRatio: () => used });
    expect((await s.putMessage(testMessage('D', 0, 'a'))).status).toBe('PUT_OK');
    used = 0.95;
    s.checkDiskSpace();
    const refused = await s.putMessage(testMessage('D', 0, 'b'));
    expect(refused.status).toBe('SERVICE_NOT_AVAILABLE');
    expect(refused.reason).toMatch(/disk is full/);
    used = 0.6;
    s.checkDiskSpace();
    expect((await s.putMessage(testMessage('D', 0, 'c'))).status).toBe('PUT_OK');
    expect(s.getMaxOffsetInQueue('D', 0)).toBe(2);
  });

  it('refuses puts before start and after shutdown', async () => {
    const s = new DefaultMessageStore(testStoreConfig(env.dir));
    expect((await s.putMessage(testMessage('X', 0, 'a'))).status).toBe('SERVICE_NOT_AVAILABLE');
    await s.start();
    await s.shutdown();
    expect((await s.putMessage(testMessage('X', 0, 'a'))).status).toBe('SERVICE_NOT_AVAILABLE');
    expect(fs.existsSync(path.join(env.dir, 'abort'))).toBe(false);
  });

  it('keeps data and offsets across a clean restart', async () => {
    let s = await open();
    for (let i = 0; i < 5; i++) await s.putMessage(testMessage('R', 0, `m${i}`, { KEYS: `k${i}` }));
    await s.shutdown();
    env.store = undefined;
    s = await open();
    expect(s.getMaxOffsetInQueue('R', 0)).toBe(5);
    expect((await s.putMessage(testMessage('R', 0, 'm5'))).appended[0]!.queueOffset).toBe(5);
    expect(s.queryMessage('R', 'k2', 5, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(1);
    expect(s.getMessage('R', 0, 0, 32).records.length).toBe(6);
    expect(s.verifyConsistency().ok).toBe(true);
  });

  it('refuses a store another live process holds, and recovers one left by a dead process', async () => {
    fs.mkdirSync(env.dir, { recursive: true });
    const stat = fs.readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const parentStart = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    fs.writeFileSync(path.join(env.dir, 'abort'), `${process.ppid} ${parentStart}`);
    await expect(new DefaultMessageStore(testStoreConfig(env.dir)).start()).rejects.toBeInstanceOf(StoreInUseError);
    // same pid but a different start time: the pid was reused, the owner is gone
    fs.writeFileSync(path.join(env.dir, 'abort'), `${process.ppid} 1`);
    const s = await open();
    expect((await s.putMessage(testMessage('Z', 0, 'ok'))).status).toBe('PUT_OK');
  });
});
