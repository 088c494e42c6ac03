import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultNamesrvSettings, type NamesrvSettings } from '../config';
import { silentLogger } from '../common/logger';
import { createRequest, encodeCommand, type RemotingCommand } from '../protocol/remoting-command';
import { RequestCode } from '../protocol/request-code';
import { ResponseCode } from '../protocol/response-code';
import { NamesrvClient, RemotingClient, invokeNamesrv } from '../remoting/remoting-client';
import { connectRaw, sleep, unusedPort } from '../remoting/test-support';
import { NamesrvRegistrar, type BrokerIdentity } from './broker-registration-client';
import { NameServer } from './name-server';
import { encodeRegisterBrokerBody, newTopicConfig, type TopicConfigSerializeWrapper } from '../protocol/bodies';
import { computeBodyCrc as bodyCrc32 } from '../protocol/message-record';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-namesrv-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startNamesrv(overrides: Partial<NamesrvSettings> = {}, dir = tempDir()) {
  const settings: NamesrvSettings = {
    ...defaultNamesrvSettings(),
    listenHost: '127.0.0.1',
    listenPort: 0,
    kvConfigPath: path.join(dir, 'kvConfig.json'),
    ...overrides,
  };
  const ns = new NameServer(settings, { logger: silentLogger });
  await ns.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await ns.shutdown();
  };
  cleanups.push(stop);
  return { ns, addr: `127.0.0.1:${ns.port}`, stop, settings };
}

function newClient() {
  const client = new RemotingClient({ connectTimeoutMs: 1000 });
  cleanups.push(() => client.close());
  return client;
}

function topicConfig(topicName: string, queues = 4, perm = 6) {
  return newTopicConfig(topicName, { readQueueNums: queues, writeQueueNums: queues, perm });
}

function wrapper(topics: string[], counter = 1): TopicConfigSerializeWrapper {
  return {
    topicConfigTable: Object.fromEntries(topics.map((t) => [t, topicConfig(t)])),
    dataVersion: { stateVersion: 0, timestamp: 1700000000000, counter },
  };
}

function identity(brokerName = 'broker-a', brokerId = 0, port = 10911, clusterName = 'DefaultCluster'): BrokerIdentity {
  return { clusterName, brokerName, brokerId, brokerAddr: `127.0.0.1:${port}`, haServerAddr: `127.0.0.1:${port + 1}` };
}

async function getRoute(client: RemotingClient, addr: string, topic: string, version: number, extra: Record<string, string> = {}): Promise<RemotingCommand> {
  const req = createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic, ...extra });
  req.version = version;
  return client.invoke(addr, req, 2000);
}

function registerRequest(id: BrokerIdentity, body: Buffer, extra: Record<string, string | number | boolean> = {}) {
  return createRequest(RequestCode.REGISTER_BROKER, { ...id, bodyCrc32: bodyCrc32(body), ...extra }, body);
}

describe('NameServer registration and routes', () => {
  it('registers a broker and serves its route in both JSON dialects by request version', async () => {
    const { addr } = await startNamesrv();
    const client = newClient();
    const results = await new NamesrvRegistrar(client, [addr], identity()).registerAll(wrapper(['TopicA']));
    expect(results).toEqual([{ namesrvAddr: addr, ok: true }]);

    const legacy = await getRoute(client, addr, 'TopicA', 121);
    expect(legacy.code).toBe(ResponseCode.SUCCESS);
    const legacyText = legacy.body!.toString();
    expect(legacyText).toContain('"brokerAddrs":{0:"127.0.0.1:10911"}');
    expect(legacyText).not.toMatch(/\s/);

    const modern = await getRoute(client, addr, 'TopicA', 401);
    const modernText = modern.body!.toString();
    expect(modernText).toContain('"brokerAddrs":{"0":"127.0.0.1:10911"}');
    expect(modernText).not.toMatch(/\s/);
    const route = JSON.parse(modernText) as { queueDatas: Array<Record<string, unknown>>; brokerDatas: Array<Record<string, unknown>> };
    expect(route.queueDatas).toEqual([{ brokerName: 'broker-a', perm: 6, readQueueNums: 4, topicSysFlag: 0, writeQueueNums: 4 }]);
    expect(route.brokerDatas[0]).toMatchObject({ brokerName: 'broker-a', cluster: 'DefaultCluster' });

    const forced = await getRoute(client, addr, 'TopicA', 121, { acceptStandardJsonOnly: 'true' });
    expect(forced.body!.toString()).toBe(modernText);
  });

  it('answers TOPIC_NOT_EXIST for unknown topics', async () => {
    const { addr } = await startNamesrv();
    const resp = await getRoute(newClient(), addr, 'Nope', 401);
    expect(resp.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    expect(resp.remark).toBe('No topic route info in name server for the topic: Nope');
  });

  it('accepts a compressed body and rejects a body whose CRC does not match', async () => {
    const { addr } = await startNamesrv();
    const client = newClient();
    const body = encodeRegisterBrokerBody({ topicConfigSerializeWrapper: wrapper(['Zipped']), filterServerList: [] }, true);
    const ok = await client.invoke(addr, registerRequest(identity(), body, { compressed: true }), 2000);
    expect(ok.code).toBe(ResponseCode.SUCCESS);
    expect((await getRoute(client, addr, 'Zipped', 401)).code).toBe(ResponseCode.SUCCESS);

    const plain = encodeRegisterBrokerBody({ topicConfigSerializeWrapper: wrapper(['BadCrc']), filterServerList: [] });
    const bad = await client.invoke(addr, registerRequest(identity('broker-b', 0, 10921), plain, { bodyCrc32: bodyCrc32(plain) ^ 1 }), 2000);
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(bad.remark).toBe('crc32 not match');
    expect((await getRoute(client, addr, 'BadCrc', 401)).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });

  it('the registrar can send the compressed form; a garbage body gets SYSTEM_ERROR', async () => {
    const { addr } = await startNamesrv();
    const client = newClient();
    const [res] = await new NamesrvRegistrar(client, [addr], identity(), { compressed: true }).registerAll(wrapper(['ZippedByRegistrar']));
    expect(res!.ok).toBe(true);
    expect((await getRoute(client, addr, 'ZippedByRegistrar', 121)).code).toBe(ResponseCode.SUCCESS);
    const junk = Buffer.from('not json at all');
    const bad = await client.invoke(addr, registerRequest(identity('broker-z', 0, 10999), junk), 2000);
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect((await getRoute(client, addr, 'Nothing', 401)).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });

  it('answers SYSTEM_ERROR naming a missing required header field', async () => {
    const { addr } = await startNamesrv();
    const resp = await newClient().invoke(addr, createRequest(RequestCode.REGISTER_BROKER, { brokerName: 'x' }), 2000);
    expect(resp.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(resp.remark).toMatch(/the custom field <\w+> is null/);
  });

  it('two brokers of one cluster, a slave, cluster info and topic lists', async () => {
    const { addr } = await startNamesrv();
    const client = newClient();
    await new NamesrvRegistrar(client, [addr], identity('broker-a', 0, 10911)).registerAll(wrapper(['Shared', 'OnlyA']));
    await new NamesrvRegistrar(client, [addr], identity('broker-b', 0, 10921)).registerAll(wrapper(['Shared']));
    const [slave] = await new NamesrvRegistrar(client, [addr], identity('broker-a', 1, 10931)).registerAll(wrapper(['Shared', 'OnlyA']));
    expect(slave).toMatchObject({ ok: true, masterAddr: '127.0.0.1:10911', haServerAddr: '127.0.0.1:10912' });

    const route = JSON.parse((await getRoute(client, addr, 'Shared', 401)).body!.toString()) as {
      brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }>;
      queueDatas: Array<{ brokerName: string }>;
    };
    expect(route.queueDatas.map((q) => q.brokerName).sort()).toEqual(['broker-a', 'broker-b']);
    const a = route.brokerDatas.find((b) => b.brokerName === 'broker-a')!;
    expect(a.brokerAddrs).toEqual({ 0: '127.0.0.1:10911', 1: '127.0.0.1:10931' });

    const cluster = await client.invoke(addr, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 2000);
    const clusterText = cluster.body!.toString();
    expect(clusterText).toContain('"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10931"}');
    expect(clusterText).toContain('"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}');

    const all = await client.invoke(addr, createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER), 2000);
    expect((JSON.parse(all.body!.toString()) as { topicList: string[] }).topicList.sort()).toEqual(['OnlyA', 'Shared']);
    const byCluster = await client.invoke(addr, createRequest(RequestCode.GET_TOPICS_BY_CLUSTER, { cluster: 'DefaultCluster' }), 2000);
    expect((JSON.parse(byCluster.body!.toString()) as { topicList: string[] }).topicList.sort()).toEqual(['OnlyA', 'Shared']);
  });

  it('unregister removes the broker and the topics only it served', async () => {
    const { addr } = await startNamesrv();
    const client = newClient();
    await new NamesrvRegistrar(client, [addr], identity('broker-a', 0, 10911)).registerAll(wrapper(['Shared', 'OnlyA']));
    const b = new NamesrvRegistrar(client, [addr], identity('broker-b', 0, 10921));
    await b.registerAll(wrapper(['Shared', 'OnlyB']));
    await b.unregisterAll();
    expect((await getRoute(client, addr, 'OnlyB', 401)).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    const shared = JSON.parse((await getRoute(client, addr, 'Shared', 401)).body!.toString()) as { brokerDatas: Array<{ brokerName: string }> };
    expect(shared.brokerDatas.map((d) => d.brokerName)).toEqual(['broker-a']);
  });

  it('removes a broker at once when its channel closes', async () => {
    const { addr, ns } = await startNamesrv();
    const brokerSide = new RemotingClient();
    cleanups.push(() => brokerSide.close());
    await new NamesrvRegistrar(brokerSide, [addr], identity()).registerAll(wrapper(['Gone']));
    const client = newClient();
    expect((await getRoute(client, addr, 'Gone', 401)).code).toBe(ResponseCode.SUCCESS);
    brokerSide.close();
    await sleep(100);
    expect((await getRoute(client, addr, 'Gone', 401)).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    expect(ns.routeInfoManager.liveBrokers()).toEqual([]);
  });

  it('expires a broker that stops registering', async () => {
    const { addr } = await startNamesrv({ brokerChannelExpiredTime: 300, scanNotActiveBrokerInterval: 50 });
    const client = newClient();
    await new NamesrvRegistrar(client, [addr], identity()).registerAll(wrapper(['Expiring']));
    await sleep(150);
    expect((await getRoute(client, addr, 'Expiring', 401)).code).toBe(ResponseCode.SUCCESS);
    await sleep(400);
    expect((await getRoute(client, addr, 'Expiring', 401)).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });

  it('a broker that keeps registering does not expire', async () => {
    const { addr } = await startNamesrv({ brokerChannelExpiredTime: 300, scanNotActiveBrokerInterval: 50 });
    const client = newClient();
    const reg = new NamesrvRegistrar(client, [addr], identity());
    for (let i = 0; i < 5; i++) {
      await reg.registerAll(wrapper(['Alive'], i));
      await sleep(150);
    }
    expect((await getRoute(client, addr, 'Alive', 401)).code).toBe(ResponseCode.SUCCESS);
  });

  it('QUERY_DATA_VERSION reports whether the broker data changed', async () => {
    const { addr } = await startNamesrv();
    const client = newClient();
    const id = identity();
    await new NamesrvRegistrar(client, [addr], id).registerAll(wrapper(['T'], 7));
    const query = (counter: number) =>
      client.invoke(
        addr,
        createRequest(
          RequestCode.QUERY_DATA_VERSION,
          { brokerName: id.brokerName, brokerAddr: id.brokerAddr, clusterName: id.clusterName, brokerId: 0 },
          Buffer.from(JSON.stringify({ stateVersion: 0, timestamp: 1700000000000, counter })),
        ),
        2000,
      );
    expect((await query(7)).extFields.changed).toBe('false');
    expect((await query(8)).extFields.changed).toBe('true');
  });
});

describe('NameServer KV config', () => {
  it('puts, gets, lists and deletes, persisting across a restart', async () => {
    const dir = tempDir();
    const first = await startNamesrv({}, dir);
    const client = newClient();
    const put = (ns: string, key: string, value: string) => client.invoke(first.addr, createRequest(RequestCode.PUT_KV_CONFIG, { namespace: ns, key, value }), 2000);
    expect((await put('ORDER_TOPIC_CONFIG', 'Ordered', 'broker-a:4')).code).toBe(ResponseCode.SUCCESS);
    expect((await put('app', 'k1', 'v1')).code).toBe(ResponseCode.SUCCESS);
    await first.stop();

    const second = await startNamesrv({}, dir);
    const get = (ns: string, key: string) => client.invoke(second.addr, createRequest(RequestCode.GET_KV_CONFIG, { namespace: ns, key }), 2000);
    const got = await get('app', 'k1');
    expect(got.code).toBe(ResponseCode.SUCCESS);
    expect(got.extFields.value).toBe('v1');
    const missing = await get('app', 'nope');
    expect(missing.code).toBe(ResponseCode.QUERY_NOT_FOUND);

    const list = await client.invoke(second.addr, createRequest(RequestCode.GET_KVLIST_BY_NAMESPACE, { namespace: 'app' }), 2000);
    expect(JSON.parse(list.body!.toString())).toEqual({ table: { k1: 'v1' } });

    // orderTopicConf comes from the ORDER_TOPIC_CONFIG namespace, and register replies carry the table.
    const [reg] = await new NamesrvRegistrar(client, [second.addr], identity()).registerAll(wrapper(['Ordered']));
    expect(reg!.ok).toBe(true);
    const route = JSON.parse((await getRoute(client, second.addr, 'Ordered', 401)).body!.toString()) as { orderTopicConf?: string };
    expect(route.orderTopicConf).toBe('broker-a:4');

    await client.invoke(second.addr, createRequest(RequestCode.DELETE_KV_CONFIG, { namespace: 'app', key: 'k1' }), 2000);
    expect((await get('app', 'k1')).code).toBe(ResponseCode.QUERY_NOT_FOUND);
    const emptyList = await client.invoke(second.addr, createRequest(RequestCode.GET_KVLIST_BY_NAMESPACE, { namespace: 'app' }), 2000);
    expect(emptyList.code).toBe(ResponseCode.QUERY_NOT_FOUND);
    const persisted = JSON.parse(fs.readFileSync(second.settings.kvConfigPath, 'utf8')) as { configTable: Record<string, unknown> };
    expect(persisted.configTable).toEqual({ ORDER_TOPIC_CONFIG: { Ordered: 'broker-a:4' } });
  });
});

describe('several NameServers', () => {
  it('the registrar registers with every NameServer and tolerates one that is down', async () => {
    const a = await startNamesrv();
    const down = `127.0.0.1:${await unusedPort()}`;
    const b = await startNamesrv();
    const client = newClient();
    const results = await new NamesrvRegistrar(client, [a.addr, down, b.addr], identity()).registerAll(wrapper(['Everywhere']));
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]!.error).toBeInstanceOf(Error);
    for (const addr of [a.addr, b.addr]) expect((await getRoute(client, addr, 'Everywhere', 401)).code).toBe(ResponseCode.SUCCESS);
  });

  it('invokeNamesrv and NamesrvClient fail over when the first NameServer is down', async () => {
    const a = await startNamesrv();
    const b = await startNamesrv();
    const client = newClient();
    await new NamesrvRegistrar(client, [a.addr, b.addr], identity()).registerAll(wrapper(['Failover']));
    await a.stop();
    const req = createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'Failover' });
    expect((await invokeNamesrv(client, [a.addr, b.addr], req, 1000)).code).toBe(ResponseCode.SUCCESS);
    const sticky = new NamesrvClient(client, [a.addr, b.addr]);
    expect((await sticky.invoke(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'Failover' }), 1000)).code).toBe(ResponseCode.SUCCESS);
    expect(sticky.preferredAddress).toBe(b.addr);
  });
});

describe('NameServer under junk input', () => {
  it('survives random and mutated frames and keeps serving routes', async () => {
    const { addr, ns } = await startNamesrv({ maxFrameBytes: 64 * 1024 });
    const client = newClient();
    await new NamesrvRegistrar(client, [addr], identity()).registerAll(wrapper(['Stable']));
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const valid = [
      encodeCommand(registerRequest(identity('broker-f', 0, 11000), encodeRegisterBrokerBody({ topicConfigSerializeWrapper: wrapper(['Fz']), filterServerList: [] }))),
      encodeCommand(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'Stable' })),
      encodeCommand(createRequest(RequestCode.PUT_KV_CONFIG, { namespace: 'n', key: 'k', value: 'v' })),
    ];
    for (let round = 0; round < 40; round++) {
      const raw = await connectRaw(ns.port);
      for (let i = 0; i < 5; i++) {
        const base = Buffer.from(valid[Math.floor(rand() * valid.length)]!);
        if (rand() < 0.3) {
          raw.socket.write(Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))));
        } else {
          for (let flips = 0; flips < 1 + Math.floor(rand() * 4); flips++) base[Math.floor(rand() * base.length)] = Math.floor(rand() * 256);
          raw.socket.write(base);
        }
      }
      raw.socket.end();
      raw.socket.destroySoon();
    }
    await sleep(100);
    const route = await getRoute(client, addr, 'Stable', 401);
    expect(route.code).toBe(ResponseCode.SUCCESS);
  });
});
