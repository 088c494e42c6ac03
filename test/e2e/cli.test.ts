/**
 * The real `rocketry` CLI as child processes: `start` on port 0, mqadmin-style admin commands against
 * it, a message sent with the raw protocol found again by key and by id, clear failures, SIGTERM.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnNode, killAllChildren, type ManagedChild } from '../helpers/child-process';
import { tempDir, waitFor, type TempDir } from '../helpers/env';
import { encodeProperties } from '../../broker/src/protocol/message-record';
import { createRequest } from '../../broker/src/protocol/remoting-command';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { ResponseCode } from '../../broker/src/protocol/response-code';
import { RemotingClient } from '../../broker/src/remoting/remoting-client';

const READY_RE = /^rocketry ready namesrv=(\S+) broker=(\S+) data=(\S+)$/;
const TOPIC = 'CliSpecTopic';
const KEY = 'order-42';
const BODY = 'hello from the cli spec';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function rocketry(args: string[], timeoutMs = 30_000): Promise<CliRun> {
  const child = spawnNode(['bin/rocketry.js', ...args], { env: { ROCKETRY_DEBUG: '' } });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const info = await child.exited;
  clearTimeout(timer);
  // Let the pipes deliver their last chunk.
  await new Promise((r) => setTimeout(r, 20));
  return { code: info.code, stdout: child.stdout(), stderr: child.stderr() };
}

function startServer(data: string, extra: string[] = []): ManagedChild {
  return spawnNode(['bin/rocketry.js', 'start', '--namesrv-port', '0', '--broker-port', '0', '--data-dir', data, '--flush', 'sync', ...extra], {
    name: 'rocketry start',
    env: { ROCKETRY_LOG_LEVEL: 'warn' },
  });
}

function expectOneCleanErrorLine(run: CliRun, pattern: RegExp): void {
  const lines = run.stderr.trim().split('\n');
  expect(lines.some((l) => pattern.test(l)), run.stderr).toBe(true);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

describe('rocketry CLI (child processes)', () => {
  let data: TempDir;
  let server: ManagedChild;
  let namesrv = '';
  let broker = '';
  let msgId = '';
  let queueId = -1;
  const client = new RemotingClient();

  beforeAll(async () => {
    data = tempDir('cli-spec');
    server = startServer(data.path);
    const line = await server.waitForLine(READY_RE, 60_000);
    const m = READY_RE.exec(line)!;
    namesrv = m[1]!;
    broker = m[2]!;
    expect(m[3]).toBe(data.path);
    expect(namesrv).not.toMatch(/:0$/);
    expect(broker).not.toMatch(/:0$/);
  });

  afterAll(async () => {
    client.close();
    await killAllChildren();
    data?.cleanup();
  });

  it('prints exactly one ready line with the bound ports', () => {
    expect(server.lines().filter((l) => l.startsWith('rocketry ready'))).toHaveLength(1);
  });

  it('clusterList shows the broker registered with the embedded NameServer', async () => {
    const run = await waitFor(
      'broker in clusterList',
      async () => {
        const r = await rocketry(['admin', 'clusterList', '-n', namesrv]);
        return r.code === 0 && r.stdout.includes(broker) ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    expect(run.stdout).toMatch(/DefaultCluster\s+broker-a\s+0\s+/);
  });

  it('updateTopic -c creates the topic on every master of the cluster', async () => {
    const run = await rocketry(['admin', 'updateTopic', '-n', namesrv, '-c', 'DefaultCluster', '-t', TOPIC, '-r', '4', '-w', '4']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`create topic to ${broker} success.`);
    expect(run.stdout).toContain(`TopicConfig [topicName=${TOPIC}, readQueueNums=4, writeQueueNums=4, perm=RW-, order=false]`);
  });

  it('topicList and topicRoute see the new topic', async () => {
    await waitFor(
      'topic in topicList',
      async () => {
        const r = await rocketry(['admin', 'topicList', '-n', namesrv]);
        return r.code === 0 && r.stdout.split('\n').includes(TOPIC);
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    const run = await rocketry(['admin', 'topicRoute', '-n', namesrv, '-t', TOPIC, '--json']);
    expect(run.code).toBe(0);
    const route = JSON.parse(run.stdout) as { brokerDatas: Array<{ brokerAddrs: Record<string, string> }>; queueDatas: Array<{ writeQueueNums: number; readQueueNums: number }> };
    expect(route.brokerDatas[0]!.brokerAddrs['0']).toBe(broker);
    expect(route.queueDatas[0]).toMatchObject({ readQueueNums: 4, writeQueueNums: 4 });
  });

  it('a message sent with the raw protocol shows in topicStatus, queryMsgByKey and queryMsgById', async () => {
    const reply = await client.invoke(
      broker,
      createRequest(
        RequestCode.SEND_MESSAGE_V2,
        { a: 'cli_spec_pg', b: TOPIC, c: 'TBW102', d: 4, e: 2, f: 0, g: Date.now(), h: 0, i: encodeProperties({ KEYS: KEY, TAGS: 'TagA', WAIT: 'true' }), j: 0, k: false },
        Buffer.from(BODY),
      ),
      5_000,
    );
    expect(reply.code).toBe(ResponseCode.SUCCESS);
    msgId = reply.extFields.msgId!;
    queueId = Number(reply.extFields.queueId);
    expect(msgId).toMatch(/^[0-9A-F]{32}$/);
    expect(queueId).toBe(2);

    const status = await rocketry(['admin', 'topicStatus', '-n', namesrv, '-t', TOPIC, '--json']);
    expect(status.code).toBe(0);
    const queues = (JSON.parse(status.stdout) as { queues: Array<{ queueId: number; minOffset: number; maxOffset: number }> }).queues;
    expect(queues.map((q) => q.queueId)).toEqual([0, 1, 2, 3]);
    expect(queues.find((q) => q.queueId === queueId)).toMatchObject({ minOffset: 0, maxOffset: 1 });
    const table = await rocketry(['admin', 'topicStatus', '-n', namesrv, '-t', TOPIC]);
    expect(table.stdout).toMatch(/#Broker Name\s+#QID\s+#Min Offset\s+#Max Offset/);

    const byKey = await waitFor(
      'message found by key',
      async () => {
        const r = await rocketry(['admin', 'queryMsgByKey', '-n', namesrv, '-t', TOPIC, '-k', KEY]);
        return r.code === 0 && r.stdout.includes(msgId) ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    expect(byKey.stdout).toMatch(new RegExp(`${msgId}\\s+${KEY}\\s+TagA\\s+2\\s+0\\s+`));

    const byId = await rocketry(['admin', 'queryMsgById', '-n', namesrv, '-i', msgId]);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toMatch(new RegExp(`Topic\\s+: ${TOPIC}`));
    expect(byId.stdout).toMatch(/Tags\s+: TagA/);
    expect(byId.stdout).toMatch(new RegExp(`Keys\\s+: ${KEY}`));
    expect(byId.stdout).toMatch(new RegExp(`Store Host\\s+: ${broker}`));
    expect(byId.stdout).toMatch(new RegExp(`Message Body\\s+: ${BODY}`));
  });

  it('consumerProgress reports broker offset, consumer offset and diff', async () => {
    const update = await client.invoke(
      broker,
      createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'cli_spec_cg', topic: TOPIC, queueId, commitOffset: 0 }),
      5_000,
    );
    expect(update.code).toBe(ResponseCode.SUCCESS);
    const run = await rocketry(['admin', 'consumerProgress', '-n', namesrv, '-g', 'cli_spec_cg', '--json']);
    expect(run.stderr).toBe('');
    const progress = JSON.parse(run.stdout) as { diffTotal: number; queues: Array<{ topic: string; queueId: number; brokerOffset: number; consumerOffset: number; diff: number }> };
    expect(progress.queues.find((q) => q.topic === TOPIC && q.queueId === queueId)).toMatchObject({ brokerOffset: 1, consumerOffset: 0, diff: 1 });
    expect(progress.diffTotal).toBeGreaterThanOrEqual(1);
  });

  it('fails clearly: unknown topic, unreachable NameServer, bad id, missing flag', async () => {
    const unknown = await rocketry(['admin', 'topicRoute', '-n', namesrv, '-t', 'NoSuchTopic']);
    expect(unknown.code).toBe(1);
    expectOneCleanErrorLine(unknown, /^rocketry: error: topic "NoSuchTopic" does not exist/);

    const unreachable = await rocketry(['admin', 'topicList', '-n', '127.0.0.1:1']);
    expect(unreachable.code).toBe(1);
    expectOneCleanErrorLine(unreachable, /^rocketry: error: cannot reach NameServer 127\.0\.0\.1:1/);

    const badId = await rocketry(['admin', 'queryMsgById', '-n', namesrv, '-i', 'xyz']);
    expect(badId.code).toBe(2);
    expectOneCleanErrorLine(badId, /is not a message id/);

    const missing = await rocketry(['admin', 'updateTopic', '-n', namesrv, '-c', 'DefaultCluster']);
    expect(missing.code).toBe(2);
    expectOneCleanErrorLine(missing, /required option '-t, --topic <topic>' not specified/);
  });

  it('start rejects a bad flag, a bad setting and a port in use with one line and a non-zero exit', async () => {
    const badFlag = await rocketry(['start', '--bogus']);
    expect(badFlag.code).toBe(2);
    expectOneCleanErrorLine(badFlag, /^rocketry: error: unknown option '--bogus'/);

    const badSetting = await rocketry(['start', '--set', 'flushDiskType=SOMETIMES', '--data-dir', data.path]);
    expect(badSetting.code).toBe(2);
    expectOneCleanErrorLine(badSetting, /^rocketry: error: flushDiskType must be ASYNC_FLUSH or SYNC_FLUSH/);

    const port = broker.split(':')[1]!;
    const other = tempDir('cli-spec-busy');
    try {
      const busy = await rocketry(['start', '--namesrv-port', '0', '--broker-port', port, '--data-dir', other.path]);
      expect(busy.code).toBe(1);
      expectOneCleanErrorLine(busy, /^rocketry: error: address already in use/);
    } finally {
      other.cleanup();
    }
  });

  it('SIGTERM flushes and exits 0; a restart on the same data still serves the message', async () => {
    const exit = await server.stop(30_000, 'SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });

    // Same ports again, so the offset msgId (which embeds the broker address) still points at it.
    server = startServer(data.path, ['--namesrv-port', namesrv.split(':')[1]!, '--broker-port', broker.split(':')[1]!]);
    const line = await server.waitForLine(READY_RE, 60_000);
    expect(READY_RE.exec(line)!.slice(1, 3)).toEqual([namesrv, broker]);
    const run = await rocketry(['admin', 'queryMsgById', '-n', namesrv, '-i', msgId, '--json']);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ msgId, topic: TOPIC, keys: KEY, tags: 'TagA', queueId, queueOffset: 0, body: BODY });
    expect(await server.stop(30_000, 'SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

describe('rocketry namesrv + rocketry broker (separate processes)', () => {
  let data: TempDir;
  afterAll(async () => {
    await killAllChildren();
    data?.cleanup();
  });

  it('a broker configured by file and flags registers with a separate NameServer', async () => {
    data = tempDir('cli-spec-multi');
    const nsProc = spawnNode(['bin/rocketry.js', 'namesrv', '--port', '0', '--data-dir', data.path], { env: { ROCKETRY_LOG_LEVEL: 'warn' } });
    const nsLine = await nsProc.waitForLine(/^rocketry ready namesrv=/, 60_000);
    const ns = /namesrv=(\S+)/.exec(nsLine)![1]!;

    const conf = `${data.path}/broker.conf`;
    fs.writeFileSync(conf, ['# broker.conf as a RocketMQ operator writes it', 'brokerClusterName=FileCluster', 'brokerName=broker-file', 'defaultTopicQueueNums=2'].join('\n'));
    const brokerProc = spawnNode(
      ['bin/rocketry.js', 'broker', '--namesrv', ns, '--config', conf, '--name', 'broker-flag', '--port', '0', '--data-dir', data.path, '--flush', 'async'],
      { env: { ROCKETRY_LOG_LEVEL: 'warn' } },
    );
    const brokerLine = await brokerProc.waitForLine(/^rocketry ready broker=/, 60_000);
    expect(brokerLine).toMatch(new RegExp(`^rocketry ready broker=127\\.0\\.0\\.1:\\d+ cluster=FileCluster name=broker-flag id=0 namesrv=${ns} data=`));
    const brokerAddr = /broker=(\S+)/.exec(brokerLine)![1]!;

    const info = await waitFor(
      'broker in clusterList',
      async () => {
        const r = await rocketry(['admin', 'clusterList', '-n', ns, '--json']);
        return r.code === 0 && r.stdout.includes(brokerAddr) ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    expect(JSON.parse(info.stdout)).toMatchObject({
      clusterAddrTable: { FileCluster: ['broker-flag'] },
      brokerAddrTable: { 'broker-flag': { brokerAddrs: { '0': brokerAddr } } },
    });

    expect(await brokerProc.stop(30_000)).toEqual({ code: 0, signal: null });
    expect(await nsProc.stop(30_000)).toEqual({ code: 0, signal: null });
  });
});
