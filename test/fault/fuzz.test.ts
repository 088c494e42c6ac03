/**
 * Fuzz: thousands of random and mutated frames at the broker and NameServer ports of a `rocketry start`
 * process, over many connections, while a well-behaved client keeps working. Afterwards normal clients
 * still round-trip and every stored message reads back with a valid CRC (over the wire and offline).
 * Seeded: set ROCKETRY_FUZZ_SEED to replay; the seed is printed and is part of every failure message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequest } from '../../broker/src/protocol/remoting-command';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { ResponseCode } from '../../broker/src/protocol/response-code';
import { killAllChildren } from '../helpers/child-process';
import { sleep, tempDir, type TempDir } from '../helpers/env';
import { FUZZ_TARGET_TOPIC, hostileFrame, Rng } from '../helpers/fuzz-frames';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { RawConnection } from '../helpers/raw-connection';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { verifyWithStoreApi } from '../helpers/store-api';
import { findStoreRoot, verifyStoreOffline } from '../helpers/store-oracle';
import { ensureTopic } from '../helpers/topics';

const SEED = Number(process.env.ROCKETRY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** ROCKETRY_FUZZ_SESSIONS raises the load for a longer local hunt. */
const SESSIONS_PER_TARGET = Number(process.env.ROCKETRY_FUZZ_SESSIONS ?? 1000);
const MAX_FRAMES_PER_SESSION = 20;
const CONCURRENCY = 16;
const SESSION_MAX_MS = 1500;
const STORE_SETTINGS = { mappedFileSizeCommitLog: 4 * 1024 * 1024, maxMessageSize: 256 * 1024, maxHashSlotNum: 4096, maxIndexNum: 16384 };

interface FuzzStats {
  sessions: number;
  frames: number;
  bytes: number;
  closedByServer: number;
  /** Error (or success) replies the server sent to fuzzed frames, by response code. */
  replies: number;
  replyCodes: Record<number, number>;
  connectFailures: number;
}

/** One connection: write a few hostile frames (in one burst or one by one), then FIN or RST. */
async function fuzzSession(addr: string, rng: Rng, stats: FuzzStats): Promise<void> {
  let conn: RawConnection;
  try {
    conn = await RawConnection.connect(addr, 2000);
  } catch {
    stats.connectFailures++;
    return;
  }
  const started = Date.now();
  try {
    const frames = 1 + rng.int(MAX_FRAMES_PER_SESSION);
    const burst = rng.chance(0.5);
    const parts: Buffer[] = [];
    for (let i = 0; i < frames; i++) {
      const f = hostileFrame(rng);
      stats.frames++;
      stats.bytes += f.bytes.length;
      if (burst) parts.push(f.bytes);
      else {
        if (!conn.writeRaw(f.bytes)) break;
        if (rng.chance(0.3)) await sleep(rng.int(5));
      }
      if (f.terminal && rng.chance(0.7)) break;
    }
    if (burst) conn.writeRaw(Buffer.concat(parts));
    if (rng.chance(0.5)) conn.end(); // half-close: the server must cope
    const closed = await conn.waitClosed(Math.max(20, Math.min(SESSION_MAX_MS - (Date.now() - started), rng.pick([20, 100, 400]))));
    if (closed) stats.closedByServer++;
    stats.replies += conn.unmatchedResponses;
    for (const code of conn.unmatchedResponseCodes) stats.replyCodes[code] = (stats.replyCodes[code] ?? 0) + 1;
  } finally {
    conn.destroy();
  }
}

async function fuzzTarget(addr: string, rng: Rng, sessions: number, stats: FuzzStats): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: CONCURRENCY }, async () => {
    while (next < sessions) {
      next++;
      stats.sessions++;
      // A child RNG per session keeps the byte stream reproducible whatever the interleaving.
      await fuzzSession(addr, new Rng(rng.int(2 ** 31)), stats);
    }
  });
  await Promise.all(lanes);
}

describe(`fuzzing broker and NameServer ports (seed ${SEED})`, () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  const probes: ProtocolProbe[] = [];

  beforeAll(async () => {
    console.log(`[fuzz] seed=${SEED} (replay with ROCKETRY_FUZZ_SEED=${SEED})`);
    dir = tempDir('fuzz');
    rocketry = await startRocketryProcess({ mode: 'start', dataDir: dir.path, settings: STORE_SETTINGS, name: 'rocketry (fuzz target)' });
  });

  afterAll(async () => {
    for (const p of probes) p.close();
    await killAllChildren();
    dir?.cleanup();
  });

  it('keeps serving and keeps every stored message intact', async () => {
    const ctx = `seed=${SEED}`;
    const ns = rocketry.namesrvAddr!;
    const broker = rocketry.brokerAddr!;
    const topic = 'FUZZ_ROUNDTRIP';
    const probe = new ProtocolProbe(5000);
    probes.push(probe);
    await ensureTopic(probe, broker, [ns], topic, 2);
    await ensureTopic(probe, broker, [ns], FUZZ_TARGET_TOPIC, 4);

    // Messages stored before the fuzz.
    const before: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await probe.send(broker, { topic, queueId: i % 2, body: `before-${i}`, keys: `before-${i}`, tags: 'TagF' });
      expect(r.code, ctx).toBe(ResponseCode.SUCCESS);
      before.push(`before-${i}`);
    }

    // A well-behaved client keeps working while the fuzz runs.
    const health = new ProtocolProbe(10_000);
    probes.push(health);
    let fuzzing = true;
    const healthFailures: string[] = [];
    const during: string[] = [];
    const healthLoop = (async () => {
      let i = 0;
      while (fuzzing) {
        try {
          const key = `during-${i++}`;
          const r = await health.send(broker, { topic, queueId: i % 2, body: key, keys: key, tags: 'TagF' });
          if (r.code === ResponseCode.SUCCESS) during.push(key);
          else healthFailures.push(`send: code ${r.code} ${r.remark ?? ''}`);
          const route = await health.route(ns, topic);
          if (!route) healthFailures.push('route vanished');
        } catch (err) {
          healthFailures.push((err as Error).message);
        }
        await sleep(100);
      }
    })();

    const rng = new Rng(SEED);
    const newStats = (): FuzzStats => ({ sessions: 0, frames: 0, bytes: 0, closedByServer: 0, replies: 0, replyCodes: {}, connectFailures: 0 });
    const brokerStats = newStats();
    const nsStats = newStats();
    const fuzzStarted = Date.now();
    await Promise.all([
      fuzzTarget(broker, new Rng(rng.int(2 ** 31)), SESSIONS_PER_TARGET, brokerStats),
      fuzzTarget(ns, new Rng(rng.int(2 ** 31)), SESSIONS_PER_TARGET, nsStats),
    ]);
    fuzzing = false;
    await healthLoop;
    console.log(`[fuzz] ${ctx} ${Date.now() - fuzzStarted} ms broker=${JSON.stringify(brokerStats)} namesrv=${JSON.stringify(nsStats)}`);

    expect(rocketry.proc.exitInfo, `${ctx}: rocketry died\n${rocketry.output().slice(-4000)}`).toBeUndefined();
    expect(brokerStats.frames + nsStats.frames, ctx).toBeGreaterThanOrEqual(2500);
    expect(brokerStats.connectFailures + nsStats.connectFailures, `${ctx}: connections refused`).toBe(0);
    // Malformed input gets error replies or a closed connection, on both ports.
    for (const s of [brokerStats, nsStats]) {
      expect(s.closedByServer, ctx).toBeGreaterThan(s.sessions / 4);
      expect(s.replies, ctx).toBeGreaterThan(0);
    }
    expect(healthFailures, `${ctx}: the well-behaved client failed during the fuzz`).toEqual([]);
    expect(during.length, ctx).toBeGreaterThan(0);

    // A fresh normal client round-trips: send + pull, and a NameServer route.
    const after = new ProtocolProbe(5000);
    probes.push(after);
    const sent = await after.send(broker, { topic, queueId: 0, body: 'after-fuzz', keys: 'after-fuzz', tags: 'TagF' });
    expect(sent.code, ctx).toBe(ResponseCode.SUCCESS);
    const pulled = await after.pull(broker, { topic, queueId: 0, offset: sent.queueOffset!, maxNums: 1 });
    expect(pulled.code, ctx).toBe(ResponseCode.SUCCESS);
    expect(pulled.records[0]?.body.toString(), ctx).toBe('after-fuzz');
    expect((await after.route(ns, topic))?.brokerDatas.some((b) => b.brokerAddrs['0'] === broker), ctx).toBe(true);

    // Every message of the round-trip topic reads back, CRC valid, nothing lost.
    const keys = new Set<string>();
    for (let q = 0; q < 2; q++) {
      for (const r of await after.pullAll(broker, topic, q)) {
        expect(r.crcOk, `${ctx}: CRC of ${topic}/${q}#${r.queueOffset}`).toBe(true);
        if (r.properties.KEYS) keys.add(r.properties.KEYS);
      }
    }
    for (const k of [...before, ...during, 'after-fuzz']) expect(keys.has(k), `${ctx}: ${k} lost`).toBe(true);

    // Every queue of every topic the NameServer knows for this broker (fuzz may have created some).
    const list = await after.request(ns, RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    expect(list.code, ctx).toBe(ResponseCode.SUCCESS);
    const topics = (JSON.parse(list.body!.toString()) as { topicList: string[] }).topicList.slice(0, 300);
    let checked = 0;
    for (const t of topics) {
      const route = await after.route(ns, t).catch(() => undefined);
      const qd = route?.queueDatas.find((q) => route.brokerDatas.some((b) => b.brokerName === q.brokerName && b.brokerAddrs['0'] === broker));
      if (!qd) continue;
      for (let q = 0; q < Math.min(qd.readQueueNums, 64); q++) {
        const res = await after.invoke(broker, createRequest(RequestCode.GET_MAX_OFFSET, { topic: t, queueId: q }));
        if (res.code !== ResponseCode.SUCCESS) continue;
        for (const r of await after.pullAll(broker, t, q)) {
          expect(r.crcOk, `${ctx}: CRC of ${t}/${q}#${r.queueOffset}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked, ctx).toBeGreaterThanOrEqual(before.length);

    // Offline: every CommitLog record intact, ConsumeQueues agree.
    const exit = await rocketry.stop(30_000);
    expect(exit.code, `${ctx}\n${rocketry.output().slice(-3000)}`).toBe(0);
    const root = findStoreRoot(dir.path);
    const offline = verifyStoreOffline(root);
    expect(offline.problems, ctx).toEqual([]);
    const own = await verifyWithStoreApi(root, STORE_SETTINGS);
    expect(own.problems, ctx).toEqual([]);
    expect(own.records, ctx).toBe(offline.scan.records.length);
    expect(offline.scan.records.every((r) => r.crcOk), ctx).toBe(true);
    expect(offline.scan.records.filter((r) => r.topic === topic).length, ctx).toBe(before.length + during.length + 1);
  }, 180_000);
});
