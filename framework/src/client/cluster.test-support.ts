/**
 * Spec harness (tests only; src code never imports broker internals): an in-process NameServer and
 * N BrokerControllers (temp dirs, port 0) registered with it, plus a raw RemotingClient for checks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrokerController } from '@rocketry/broker/broker/broker-controller';
import { silentLogger } from '@rocketry/broker/common/logger';
import { defaultBrokerSettings, defaultNamesrvSettings, type BrokerSettings } from '@rocketry/broker/config';
import { NameServer } from '@rocketry/broker/namesrv/name-server';
import {
  CreateTopicRequestHeader,
  createRequest,
  GetRouteInfoRequestHeader,
  RequestCode,
  ResponseCode,
  decodeTopicRouteData,
  type TopicRouteData,
} from '@rocketry/broker/protocol';
import { RemotingClient } from '@rocketry/broker/remoting';

export interface TestBrokerNode {
  name: string;
  controller: BrokerController;
  addr: string;
  dir: string;
}

export interface TestCluster {
  namesrv: NameServer;
  namesrvAddr: string;
  brokers: TestBrokerNode[];
  raw: RemotingClient;
  /** UPDATE_AND_CREATE_TOPIC on every broker (or the named ones), then waits until the NameServer routes it. */
  createTopic(topic: string, queueNums?: number, brokerNames?: string[]): Promise<TopicRouteData>;
  route(topic: string): Promise<TopicRouteData | undefined>;
  stopBroker(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  brokers?: number;
  broker?: Partial<BrokerSettings>;
}

export async function waitUntil<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-client-'));
  const namesrv = new NameServer(
    { ...defaultNamesrvSettings(), listenHost: '127.0.0.1', listenPort: 0, kvConfigPath: path.join(root, 'kv.json') },
    { logger: silentLogger },
  );
  await namesrv.start();
  const namesrvAddr = namesrv.address;
  const brokers: TestBrokerNode[] = [];
  const raw = new RemotingClient({ logger: silentLogger });
  const count = opts.brokers ?? 1;
  for (let i = 0; i < count; i++) {
    const name = `broker-${String.fromCharCode(97 + i)}`;
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    const settings: BrokerSettings = {
      ...defaultBrokerSettings(),
      brokerName: name,
      listenHost: '127.0.0.1',
      listenPort: 0,
      namesrvAddr,
      storePathRootDir: dir,
      mappedFileSizeCommitLog: 4 * 1024 * 1024,
      mappedFileSizeConsumeQueue: 1000,
      maxHashSlotNum: 1000,
      maxIndexNum: 4000,
      ...opts.broker,
    };
    const controller = new BrokerController(settings, { logger: silentLogger });
    await controller.start();
    brokers.push({ name, controller, addr: `127.0.0.1:${controller.listenPort}`, dir });
  }

  const route = async (topic: string): Promise<TopicRouteData | undefined> => {
    const res = await raw.invoke(namesrvAddr, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader.encode({ topic })), 3000);
    return res.code === ResponseCode.SUCCESS && res.body ? decodeTopicRouteData(res.body) : undefined;
  };

  return {
    namesrv,
    namesrvAddr,
    brokers,
    raw,
    route,
    async createTopic(topic, queueNums = 4, brokerNames) {
      const targets = brokers.filter((b) => !brokerNames || brokerNames.includes(b.name));
      for (const b of targets) {
        const header = CreateTopicRequestHeader.encode({
          topic,
          defaultTopic: 'TBW102',
          readQueueNums: queueNums,
          writeQueueNums: queueNums,
          perm: 6,
          topicFilterType: 'SINGLE_TAG',
        });
        const res = await raw.invoke(b.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, header), 3000);
        if (res.code !== ResponseCode.SUCCESS) throw new Error(`create topic ${topic} on ${b.name}: ${res.code} ${res.remark ?? ''}`);
      }
      return waitUntil(async () => {
        const r = await route(topic);
        return r && targets.every((t) => r.queueDatas.some((q) => q.brokerName === t.name)) ? r : undefined;
      }, 10_000, `route of ${topic}`);
    },
    async stopBroker(name) {
      const b = brokers.find((x) => x.name === name);
      if (b?.controller.running) await b.controller.shutdown();
    },
    async stop() {
      raw.close();
      for (const b of brokers) if (b.controller.running) await b.controller.shutdown();
      await namesrv.shutdown();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
