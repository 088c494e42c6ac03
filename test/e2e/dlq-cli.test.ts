/**
 * `rocketry admin dlqList | dlqInspect | dlqReplay | dlqPurge` as child processes against a
 * `rocketry start` broker process; the dead letters come from a listener container in this process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRocketryConfig, RocketListener, RocketListenerContainer, RocketTemplate, type MessageExt } from '@rocketry/framework';
import { killAllChildren, spawnNode, type ManagedChild } from '../helpers/child-process';
import { tempDir, waitFor, type TempDir } from '../helpers/env';

const READY_RE = /^rocketry ready namesrv=(\S+) broker=(\S+) data=(\S+)$/;
const run = `${process.pid}_${Date.now().toString(36)}`;
const TOPIC = `DlqCli_${run}`;
const GROUP = `dlq-cli-cg-${run}`;

async function rocketry(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnNode(['bin/rocketry.js', ...args], { env: { ROCKETRY_DEBUG: '' } });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const info = await child.exited;
  clearTimeout(timer);
  await new Promise((r) => setTimeout(r, 20));
  return { code: info.code, stdout: child.stdout(), stderr: child.stderr() };
}

class Failing {
  healed = false;
  consumed: Array<{ id: string; msgId: string }> = [];
  @RocketListener({ topic: TOPIC, group: GROUP, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxReconsumeTimes: 0 })
  onMessage(p: { id: string }, msg: MessageExt): void {
    if (!this.healed) throw new Error(`payment gateway down for ${p.id}`);
    this.consumed.push({ id: p.id, msgId: msg.msgId });
  }
}

describe('rocketry admin dlq* (child processes)', () => {
  let data: TempDir;
  let server: ManagedChild;
  let namesrv = '';
  let container: RocketListenerContainer;
  let template: RocketTemplate;
  const listener = new Failing();
  const ids = new Map<string, string>();

  beforeAll(async () => {
    data = tempDir('dlq-cli');
    server = spawnNode(['bin/rocketry.js', 'start', '--namesrv-port', '0', '--broker-port', '0', '--data-dir', data.path], {
      name: 'rocketry start',
      env: { ROCKETRY_LOG_LEVEL: 'warn' },
    });
    namesrv = READY_RE.exec(await server.waitForLine(READY_RE, 60_000))![1]!;
    const created = await rocketry(['admin', 'updateTopic', '-n', namesrv, '-c', 'DefaultCluster', '-t', TOPIC, '-r', '2', '-w', '2']);
    expect(created.code, created.stderr).toBe(0);
    const config = resolveRocketryConfig({ nameServer: namesrv, producer: { group: `dlq-cli-pg-${run}` }, env: false });
    template = RocketTemplate.fromConfig(config);
    await template.start();
    // The topic was just created: poll routes and rebalance often so the consumer picks it up at once.
    container = new RocketListenerContainer({ config, consumerOptions: { pollNameServerIntervalMs: 300, rebalanceIntervalMs: 300 } });
    container.registerInstance(listener);
    await container.start();
    for (const id of ['p1', 'p2', 'p3']) ids.set(id, (await template.syncSend(TOPIC, { id }, { keys: [`pay-${id}`] })).msgId);
    await waitFor('three dead letters', () => (container.health().consumers[0]!.deadLetters === 3 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
  });

  afterAll(async () => {
    await container?.stop({ awaitTerminationMs: 500 });
    await template?.destroy();
    await killAllChildren();
    data?.cleanup();
  });

  it('dlqList shows the count and each message with offset, msgId, keys, original topic, reconsume times and reason', async () => {
    const json = await rocketry(['admin', 'dlqList', '-n', namesrv, '-g', GROUP, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const [g] = JSON.parse(json.stdout) as Array<{ group: string; count: number; messages: Array<Record<string, unknown>> }>;
    expect(g).toMatchObject({ group: GROUP, count: 3 });
    const p2 = g!.messages.find((m) => m.msgId === ids.get('p2'))!;
    expect(p2).toMatchObject({ keys: ['pay-p2'], originalTopic: TOPIC, reconsumeTimes: 1, reason: 'payment gateway down for p2', queueId: 0 });
    expect(typeof p2.queueOffset).toBe('number');

    const table = await rocketry(['admin', 'dlqList', '-n', namesrv]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(`%DLQ%${GROUP}  group=${GROUP}  count=3`);
    expect(table.stdout).toContain('payment gateway down for p1');
  });

  it('dlqInspect shows the failure reason; an unknown id is one clean error line', async () => {
    const r = await rocketry(['admin', 'dlqInspect', '-n', namesrv, '-g', GROUP, '-i', ids.get('p1')!]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Failure Reason\s+: payment gateway down for p1/);
    expect(r.stdout).toMatch(new RegExp(`Original Topic\\s+: ${TOPIC}`));
    expect(r.stdout).toMatch(/Message Body\s+: \{"id":"p1"\}/);
    const missing = await rocketry(['admin', 'dlqInspect', '-n', namesrv, '-g', GROUP, '-i', 'NOT-THERE']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/message NOT-THERE is not in %DLQ%/);
    expect(missing.stderr).not.toMatch(/^\s+at /m);
  });

  it('dlqReplay -i sends one back to the original topic (same msgId); --purge replays the rest and hides them; dlqPurge then finds nothing', async () => {
    listener.healed = true;
    const one = await rocketry(['admin', 'dlqReplay', '-n', namesrv, '-g', GROUP, '-i', ids.get('p1')!]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('replayed 1, failed 0');
    await waitFor('p1 consumed again', () => listener.consumed.find((c) => c.id === 'p1'), { timeoutMs: 30_000, intervalMs: 100 });
    expect(listener.consumed.find((c) => c.id === 'p1')!.msgId).toBe(ids.get('p1'));

    const all = await rocketry(['admin', 'dlqReplay', '-n', namesrv, '-g', GROUP, '--purge']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('replayed 3, failed 0, purged 3');
    await waitFor('p2 and p3 consumed', () => (['p2', 'p3'].every((id) => listener.consumed.some((c) => c.id === id)) ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });

    const list = await rocketry(['admin', 'dlqList', '-n', namesrv, '-g', GROUP, '--json']);
    expect((JSON.parse(list.stdout) as Array<{ count: number }>)[0]!.count).toBe(0);
    const purge = await rocketry(['admin', 'dlqPurge', '-n', namesrv, '-g', GROUP]);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout).toContain(`purged 0 dead letter(s) of ${GROUP}`);
  });
});
