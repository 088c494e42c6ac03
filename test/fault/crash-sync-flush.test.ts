/**
 * Crash safety with SYNC_FLUSH: producers send continuously (raw RemotingClient connections and an
 * ali-ons process), the broker process is SIGKILLed mid-stream, restarted on the same data — twice, so
 * the second crash hits an already-recovered store — and every ACKNOWLEDGED message must be delivered
 * intact; ConsumeQueue/IndexFile must agree with the CommitLog.
 *
 * Limit: SIGKILL ends the process, not the machine, so data written but not yet fdatasync'ed survives in
 * the page cache. This catches acks sent before the write (user-space buffering) and broken recovery;
 * fsync ordering itself is covered by the store's crash-simulation spec on a memory fs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseCode } from '../../broker/src/protocol/response-code';
import { startAliOnsProducer } from '../helpers/ali-ons';
import { killAllChildren } from '../helpers/child-process';
import { tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import type { OracleRecord } from '../helpers/record-oracle';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { verifyWithStoreApi } from '../helpers/store-api';
import { findStoreRoot, verifyStoreOffline } from '../helpers/store-oracle';
import { ensureTopic, waitForRoute } from '../helpers/topics';

interface Acked {
  key: string;
  body: string;
  msgId: string;
  queueId: number;
  queueOffset: number;
  tags: string;
}

const TOPIC = 'CRASH_TOPIC';
const QUEUES = 4;
const RAW_PRODUCERS = 4;
/** In-flight sends per raw producer connection. */
const WINDOW = 8;
const ACKS_BEFORE_KILL = 1500;
/** Small segments so the run crosses CommitLog files (BLANK records, file roll-over during the crash). */
const STORE_SETTINGS = {
  mappedFileSizeCommitLog: 256 * 1024,
  maxMessageSize: 64 * 1024,
  mappedFileSizeConsumeQueue: 1000,
  maxHashSlotNum: 4096,
  maxIndexNum: 8192,
};

describe('SIGKILL during SYNC_FLUSH sends', () => {
  let dir: TempDir;
  const probes: ProtocolProbe[] = [];

  beforeAll(() => {
    dir = tempDir('crash');
  });

  afterAll(async () => {
    for (const p of probes) p.close();
    await killAllChildren();
    dir?.cleanup();
  });

  function start(name: string, ports?: { namesrvPort?: number; brokerPort?: number }): Promise<RocketryProcess> {
    return startRocketryProcess({
      mode: 'start',
      dataDir: dir.path,
      args: ['--flush', 'sync'],
      settings: STORE_SETTINGS,
      ...ports,
      name,
      readyTimeoutMs: 60_000,
    });
  }

  /** Sends from 4 raw connections (8 in flight each) and one ali-ons process, SIGKILLs the broker, returns the acks. */
  async function sendAndCrash(proc: RocketryProcess, round: number): Promise<Acked[]> {
    const broker = proc.brokerAddr!;
    const acked: Acked[] = [];
    const failures: string[] = [];
    let stop = false;
    const lanes: Array<Promise<void>> = [];
    for (let p = 0; p < RAW_PRODUCERS; p++) {
      const probe = new ProtocolProbe(5000);
      probes.push(probe);
      let seq = 0;
      const lane = async () => {
        while (!stop) {
          const i = seq++;
          const key = `r${round}-raw${p}-${i}`;
          const body = `crash-body ${key} ${'x'.repeat((i * 37) % 700)}`;
          const tags = i % 3 === 0 ? 'TagX' : 'TagY';
          try {
            const r = await probe.send(broker, { topic: TOPIC, queueId: i % QUEUES, body, tags, keys: key, producerGroup: `crash_pg_${p}` });
            if (r.code === ResponseCode.SUCCESS) acked.push({ key, body, msgId: r.msgId!, queueId: r.queueId!, queueOffset: r.queueOffset!, tags });
            else failures.push(`${key}: code ${r.code} ${r.remark ?? ''}`);
          } catch {
            return; // connection lost: the broker is gone; an unacknowledged send promises nothing
          }
        }
      };
      for (let w = 0; w < WINDOW; w++) lanes.push(lane());
    }
    const ons = startAliOnsProducer(
      { nameSrv: proc.namesrvAddr!, topic: TOPIC, count: 0, tags: ['TagOns'], keyPrefix: `r${round}-ons`, bodySize: 300 },
      `ali-ons crash producer (round ${round})`,
    );
    await waitFor(`round ${round}: acknowledged sends before the crash`, () => acked.length >= ACKS_BEFORE_KILL && ons.sent().length >= 20, {
      timeoutMs: 45_000,
      intervalMs: 50,
    });
    proc.kill('SIGKILL');
    await proc.exited;
    stop = true;
    await Promise.all(lanes);
    await ons.stop();
    expect(failures, `round ${round}: non-success send replies before the crash`).toEqual([]);
    // The store did not shut down: the abort marker is still there, so the restart takes the recovery path.
    expect(fs.existsSync(path.join(findStoreRoot(dir.path), 'abort'))).toBe(true);
    const onsAcked = ons.sent().map((s) => ({ key: s.key, body: s.body, msgId: s.msgId, queueId: s.queueId, queueOffset: s.queueOffset, tags: 'TagOns' }));
    console.log(`[crash] round ${round}: acknowledged before SIGKILL raw=${acked.length} ali-ons=${onsAcked.length}`);
    return [...acked, ...onsAcked];
  }

  it('every acknowledged message survives two crashes, and ConsumeQueue/IndexFile agree with the CommitLog', async () => {
    const first = await start('rocketry (round 1)');
    const ports = { namesrvPort: first.namesrvPort, brokerPort: first.brokerPort };
    const admin = new ProtocolProbe();
    probes.push(admin);
    await ensureTopic(admin, first.brokerAddr!, [first.namesrvAddr!], TOPIC, QUEUES);
    const acked1 = await sendAndCrash(first, 1);

    // Round 2 writes on top of a recovered store and crashes it again.
    const second = await start('rocketry (round 2, after crash 1)', ports);
    await waitForRoute(admin, second.namesrvAddr!, TOPIC, (r) => r.queueDatas[0]?.writeQueueNums === QUEUES, 15_000);
    const acked2 = await sendAndCrash(second, 2);

    const third = await start('rocketry (after crash 2)', ports);
    const probe = new ProtocolProbe(10_000);
    probes.push(probe);
    const broker = third.brokerAddr!;
    // The topic config survived both crashes.
    const route = await waitForRoute(probe, third.namesrvAddr!, TOPIC, () => true, 15_000);
    expect(route.queueDatas[0]!.writeQueueNums).toBe(QUEUES);

    const allAcked = [...acked1, ...acked2];
    const pulled = new Map<string, OracleRecord>();
    for (let q = 0; q < QUEUES; q++) {
      const recs = await probe.pullAll(broker, TOPIC, q);
      recs.forEach((r, i) => {
        expect(r.queueOffset, `queue ${q} offsets are contiguous`).toBe(i);
        expect(r.crcOk, `CRC of ${r.properties.KEYS}`).toBe(true);
        expect(r.topic).toBe(TOPIC);
        pulled.set(r.properties.KEYS ?? `?${q}-${i}`, r);
      });
    }
    const missing = allAcked.filter((a) => !pulled.has(a.key));
    expect(missing.map((m) => m.key), `acknowledged but lost after restart (of ${allAcked.length})`).toEqual([]);
    for (const a of allAcked) {
      const r = pulled.get(a.key)!;
      expect(r.body.toString(), `body of ${a.key}`).toBe(a.body);
      expect(r.offsetMsgId, `msgId of ${a.key}`).toBe(a.msgId);
      expect(r.queueId).toBe(a.queueId);
      expect(r.queueOffset).toBe(a.queueOffset);
      expect(r.properties.TAGS).toBe(a.tags);
    }

    // IndexFile: every stored key of the topic is found by QUERY_MESSAGE and points at the same record.
    const indexMisses: string[] = [];
    for (const [key, rec] of pulled) {
      const hits = await probe.queryByKey(broker, TOPIC, key, 32);
      if (!hits.some((h) => h.physicalOffset === rec.physicalOffset)) indexMisses.push(key);
    }
    expect(indexMisses.slice(0, 20), `${indexMisses.length} keys not found through the IndexFile`).toEqual([]);

    // The restarted broker keeps taking writes after recovery.
    const after = await probe.send(broker, { topic: TOPIC, queueId: 0, body: 'after-restart', keys: 'after-restart' });
    expect(after.code).toBe(ResponseCode.SUCCESS);
    console.log(`[crash] stored after two crashes: ${pulled.size}, acknowledged: ${allAcked.length} (${pulled.size - allAcked.length} unacknowledged sends also survived)`);

    const exit = await third.stop(30_000);
    expect(exit.code, third.output().slice(-3000)).toBe(0);

    // Offline: walk the CommitLog, check CRCs, and ConsumeQueue ⇄ CommitLog both ways.
    const root = findStoreRoot(dir.path);
    expect(fs.existsSync(path.join(root, 'abort')), 'a clean stop removes the abort marker').toBe(false);
    const segments = fs.readdirSync(path.join(root, 'commitlog')).length;
    expect(segments, 'the run should span several CommitLog segments').toBeGreaterThan(2);
    const offline = verifyStoreOffline(root);
    expect(offline.problems).toEqual([]);
    const storedKeys = new Set(offline.scan.records.filter((r) => r.topic === TOPIC).map((r) => r.properties.KEYS));
    expect(allAcked.filter((a) => !storedKeys.has(a.key))).toEqual([]);

    // And the store's own verification (CQ and IndexFile against the CommitLog).
    const own = await verifyWithStoreApi(root, STORE_SETTINGS);
    expect(own.problems).toEqual([]);
    expect(own.ok).toBe(true);
    expect(own.records).toBe(offline.scan.records.length);
  }, 240_000);
});
