/**
 * State that must survive a broker restart, seen through ali-ons processes: committed consumer offsets
 * (a new consumer of the group resumes where the old one stopped) and a delayed message that was not
 * yet due when the broker stopped (delivered after the restart, not before its due time).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAliOnsConsumer, startAliOnsProducer } from '../helpers/ali-ons';
import { killAllChildren } from '../helpers/child-process';
import { sleep, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic, queuesOfTopic, waitForRoute } from '../helpers/topics';

/** Level 3 = 8 s, the rest short. */
const DELAY_LEVELS = ['1s', '1s', '8s', ...Array.from({ length: 15 }, () => '1s')].join(' ');
const DELAY_LEVEL = 3;
const DELAY_MS = 8000;

describe('broker restart with ali-ons clients', () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  let probe: ProtocolProbe;

  beforeAll(async () => {
    dir = tempDir('e2e-restart');
    rocketry = await startRocketryProcess({ mode: 'start', dataDir: dir.path, settings: { messageDelayLevel: DELAY_LEVELS }, name: 'rocketry (before restart)' });
    probe = new ProtocolProbe();
  });

  afterAll(async () => {
    probe?.close();
    await killAllChildren();
    dir?.cleanup();
  });

  it('committed offsets and a not-yet-due delayed message survive a restart', async () => {
    const topic = 'RESTART_TOPIC';
    const group = 'GID_RESTART';
    let ns = rocketry.namesrvAddr!;
    let broker = rocketry.brokerAddr!;
    await ensureTopic(probe, broker, [ns], topic, 2);

    const c1 = startAliOnsConsumer({ nameSrv: ns, group, topic }, 'consumer before restart');
    await c1.ready();
    await c1.waitAssignment((q) => queuesOfTopic(q, topic).length === 2, 35_000);
    const first = await startAliOnsProducer({ nameSrv: ns, topic, count: 10, keyPrefix: 'first' }, 'producer before restart').finished(60_000);
    await c1.waitMessages((m) => new Set(m.map((x) => x.keys)).size >= 10, 30_000, 'the first 10');
    // Wait until the broker holds the committed offsets (ali-ons persists every 5 s), then stop the consumer.
    await waitFor(
      'committed offsets at the broker',
      async () => {
        for (let q = 0; q < 2; q++) {
          if ((await probe.consumerOffset(broker, group, topic, q)) !== (await probe.maxOffset(broker, topic, q))) return undefined;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect((await c1.stop()).code).toBe(0);

    // A delayed message, then a clean stop long before it is due.
    const delayed = await startAliOnsProducer({ nameSrv: ns, topic, count: 1, keyPrefix: 'delayed', delayLevel: DELAY_LEVEL }, 'delayed producer').finished(30_000);
    const delayedSentAt = delayed.sent[0]!.t;
    expect((await rocketry.stop()).code).toBe(0);
    expect(Date.now() - delayedSentAt, 'the broker stopped before the delayed message was due').toBeLessThan(DELAY_MS);

    rocketry = await startRocketryProcess({
      mode: 'start',
      dataDir: dir.path,
      settings: { messageDelayLevel: DELAY_LEVELS },
      namesrvPort: rocketry.namesrvPort,
      brokerPort: rocketry.brokerPort,
      name: 'rocketry (after restart)',
    });
    ns = rocketry.namesrvAddr!;
    broker = rocketry.brokerAddr!;
    await waitForRoute(probe, ns, topic, () => true, 15_000);
    for (let q = 0; q < 2; q++) {
      expect(await probe.consumerOffset(broker, group, topic, q), `committed offset of queue ${q} after restart`).toBe(await probe.maxOffset(broker, topic, q));
    }

    // Produced BEFORE the group's next consumer starts: only resuming from the committed offsets (not from
    // the queue end, where a group without offsets starts) delivers them.
    const second = await startAliOnsProducer({ nameSrv: ns, topic, count: 5, keyPrefix: 'second' }, 'producer after restart').finished(60_000);
    const c2 = startAliOnsConsumer({ nameSrv: ns, group, topic }, 'consumer after restart');
    await c2.ready();
    const expected = [...second.sent.map((s) => s.key), delayed.sent[0]!.key].sort();
    await c2.waitMessages((m) => new Set(m.map((x) => x.keys)).size >= expected.length, 45_000, 'the new messages and the delayed one');
    await sleep(1500);
    const got = c2.messages();
    // Resumes from the committed offsets: nothing of the first batch again, each new message once.
    expect(got.map((m) => m.keys).sort()).toEqual(expected);
    expect(got.filter((m) => first.sent.some((s) => s.key === m.keys))).toEqual([]);
    const d = got.find((m) => m.keys === delayed.sent[0]!.key)!;
    expect(d.t - delayedSentAt, 'delayed message not delivered before its level').toBeGreaterThanOrEqual(DELAY_MS - 500);
    expect(d.topic).toBe(topic);
    expect((await c2.stop()).code).toBe(0);
  }, 180_000);
});
