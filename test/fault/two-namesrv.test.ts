/**
 * Two `rocketry namesrv` processes and one `rocketry broker --namesrv 'a;b'`: the broker registers with
 * both, routes resolve with one NameServer down (our failover client and ali-ons), and a killed broker
 * leaves the routes at once (channel close), long before the 120 s expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { ResponseCode } from '../../broker/src/protocol/response-code';
import { startAliOnsProducer } from '../helpers/ali-ons';
import { killAllChildren } from '../helpers/child-process';
import { tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic, waitForRoute } from '../helpers/topics';

describe('two NameServers, one broker (three processes)', () => {
  let dir: TempDir;
  let nsA: RocketryProcess;
  let nsB: RocketryProcess;
  let broker: RocketryProcess;
  let probe: ProtocolProbe;

  beforeAll(async () => {
    dir = tempDir('two-ns');
    [nsA, nsB] = await Promise.all([
      startRocketryProcess({ mode: 'namesrv', name: 'namesrv A', dataDir: `${dir.path}/ns-a` }),
      startRocketryProcess({ mode: 'namesrv', name: 'namesrv B', dataDir: `${dir.path}/ns-b` }),
    ]);
    broker = await startRocketryProcess({
      mode: 'broker',
      namesrvAddr: `${nsA.namesrvAddr};${nsB.namesrvAddr}`,
      dataDir: `${dir.path}/broker`,
      name: 'broker',
    });
    probe = new ProtocolProbe();
  });

  afterAll(async () => {
    probe?.close();
    await killAllChildren();
    dir?.cleanup();
  });

  it('registers with both, survives one NameServer down, and disappears from routes when killed', async () => {
    const a = nsA.namesrvAddr!;
    const b = nsB.namesrvAddr!;
    const brokerAddr = broker.brokerAddr!;
    const topic = 'TWO_NS_TOPIC';

    // Registered with both: each NameServer routes the topic to this broker as master (id 0).
    const route = await ensureTopic(probe, brokerAddr, [a, b], topic, 4);
    for (const ns of [a, b]) {
      const r = (await probe.route(ns, topic))!;
      expect(r.brokerDatas).toHaveLength(1);
      expect(r.brokerDatas[0]!.brokerAddrs['0']).toBe(brokerAddr);
      expect(r.queueDatas[0]!.writeQueueNums).toBe(4);
    }
    expect(route.brokerDatas[0]!.brokerAddrs['0']).toBe(brokerAddr);

    // NameServer A goes away.
    const exitA = await nsA.stop();
    expect(exitA.code).toBe(0);

    // Our failover client, A listed first: falls over to B.
    const viaFailover = await probe.routeVia([a, b], topic);
    expect(viaFailover?.brokerDatas[0]!.brokerAddrs['0']).toBe(brokerAddr);

    // ali-ons with both NameServers: its first pick is list[1], so list the dead one there to force a failover.
    const producer = startAliOnsProducer({ nameSrv: [b, a], topic, count: 5, tags: ['TagNs'], keyPrefix: 'two-ns' }, 'ali-ons producer (A down)');
    const { sent } = await producer.finished(60_000);
    expect(sent.map((s) => s.sendStatus)).toEqual(Array(5).fill('SEND_OK'));
    for (const s of sent) {
      const hits = await probe.queryByKey(brokerAddr, topic, s.key);
      expect(hits.map((h) => h.offsetMsgId)).toContain(s.msgId);
    }

    // The broker keeps B up to date while A is down: a new topic still reaches B.
    await ensureTopic(probe, brokerAddr, [b], 'TWO_NS_TOPIC_LATE', 2);

    // Kill the broker without a goodbye: B must drop it on channel close, not after the 120 s expiry.
    const killedAt = Date.now();
    broker.kill('SIGKILL');
    await broker.exited;
    await waitFor(
      'route to disappear from NameServer B',
      async () => {
        const res = await probe.request(b, RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic });
        return res.code === ResponseCode.TOPIC_NOT_EXIST ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    const late = await probe.route(b, 'TWO_NS_TOPIC_LATE');
    expect(late).toBeUndefined();
  }, 120_000);

  it('a broker restarted while one NameServer is down registers with the other, and a clean stop leaves the routes at once', async () => {
    const a = nsA.namesrvAddr!;
    const b = nsB.namesrvAddr!;
    expect(nsA.proc.exitInfo, 'NameServer A is still down from the previous test').toBeDefined();
    // Same data dir and port: topics persisted, A unreachable must not block the start.
    broker = await startRocketryProcess({
      mode: 'broker',
      namesrvAddr: `${a};${b}`,
      dataDir: `${dir.path}/broker`,
      brokerPort: broker.brokerPort,
      name: 'broker (restarted)',
    });
    const brokerAddr = broker.brokerAddr!;
    for (const topic of ['TWO_NS_TOPIC', 'TWO_NS_TOPIC_LATE']) {
      const r = await waitForRoute(probe, b, topic, () => true, 10_000);
      expect(r.brokerDatas[0]!.brokerAddrs['0']).toBe(brokerAddr);
    }
    const stoppedAt = Date.now();
    const exit = await broker.stop();
    expect(exit.code).toBe(0);
    await waitFor(
      'route to disappear from NameServer B after a clean stop',
      async () => ((await probe.route(b, 'TWO_NS_TOPIC')) === undefined ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  }, 60_000);
});
