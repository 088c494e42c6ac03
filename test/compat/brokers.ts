/**
 * The two brokers of the matrix, behind one interface:
 *
 *   rocketry  `node bin/rocketry.js start` (NameServer + Broker in one process) via test/helpers
 *   apache    Apache RocketMQ 5.3.x NamesrvStartup + BrokerStartup from the Maven cache (java -cp)
 *
 * Both get the same test settings: short delay levels (level 2 = 2 s, every other level 1 s so retries are
 * quick), 1 s transaction checks, auto-create on, 16 MiB CommitLog and 300-entry ConsumeQueue files,
 * brokerIP1=127.0.0.1, a temp store.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { spawnExternal, type ExternalProcess } from './java-process';

export type BrokerKind = 'rocketry' | 'apache';

export interface BrokerUnderTest {
  readonly kind: BrokerKind;
  readonly namesrvAddr: string;
  readonly brokerAddr: string;
  /** Creates a topic on the broker (UPDATE_AND_CREATE_TOPIC) and waits until the NameServer routes it. */
  createTopic(topic: string, queues?: number): Promise<void>;
  /** Stops the broker cleanly (SIGTERM) and starts it again on the same store and ports. */
  restartBroker(): Promise<void>;
  stop(): Promise<void>;
}

/** Level 2 = 2 s (the delay scenario); everything else 1 s so retry levels 3+ are quick. */
export const TEST_DELAY_LEVELS = ['1s', '2s', ...Array.from({ length: 16 }, () => '1s')].join(' ');

export const TEST_BROKER_SETTINGS: Record<string, string | number | boolean> = {
  brokerIP1: '127.0.0.1',
  autoCreateTopicEnable: true,
  autoCreateSubscriptionGroup: true,
  messageDelayLevel: TEST_DELAY_LEVELS,
  transactionCheckInterval: 1000,
  transactionTimeOut: 1000,
  mappedFileSizeCommitLog: 16 * 1024 * 1024,
  // bytes on both brokers: 300 entries of 20 B per ConsumeQueue file
  mappedFileSizeConsumeQueue: 6000,
  maxHashSlotNum: 10_000,
  maxIndexNum: 40_000,
};

const READY_TIMEOUT_MS = 60_000;

async function waitRoutable(probe: ProtocolProbe, namesrvAddr: string, topic: string, brokerAddr?: string): Promise<void> {
  await waitFor(
    `route of ${topic} at ${namesrvAddr}`,
    async () => {
      const r = await probe.route(namesrvAddr, topic, 2000);
      if (!r || r.queueDatas.length === 0) return false;
      return brokerAddr === undefined || r.brokerDatas.some((b) => Object.values(b.brokerAddrs).includes(brokerAddr));
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200 },
  );
}

// ------------------------------------------------------------------------------------------ ours

export async function startRocketryBroker(): Promise<BrokerUnderTest> {
  const dir = tempDir('compat-rocketry');
  let probe = new ProtocolProbe();
  const settings = { ...TEST_BROKER_SETTINGS };
  let proc: RocketryProcess = await startRocketryProcess({ mode: 'start', dataDir: dir.path, settings, name: 'rocketry (compat)' });
  const namesrvAddr = proc.namesrvAddr!;
  const brokerAddr = proc.brokerAddr!;
  const namesrvPort = proc.namesrvPort!;
  const brokerPort = proc.brokerPort!;
  await waitRoutable(probe, namesrvAddr, 'TBW102', brokerAddr);
  return {
    kind: 'rocketry',
    namesrvAddr,
    brokerAddr,
    async createTopic(topic, queues = 4) {
      await probe.createTopic(brokerAddr, topic, queues);
      await waitRoutable(probe, namesrvAddr, topic);
    },
    async restartBroker() {
      await proc.stop(15_000);
      // stale connections to the old process: start over
      probe.close();
      probe = new ProtocolProbe();
      proc = await startRocketryProcess({ mode: 'start', dataDir: dir.path, settings, namesrvPort, brokerPort, name: 'rocketry (compat)' });
      await waitRoutable(probe, namesrvAddr, 'TBW102', brokerAddr);
    },
    async stop() {
      probe.close();
      await proc.stop(15_000);
      dir.cleanup();
    },
  };
}

// ------------------------------------------------------------------------------------------ apache

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/** The Java broker also binds listenPort-2 (fast/VIP channel) and listenPort+1 (HA). */
export async function freeBrokerPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 1100 || p > 65_000) continue;
    if ((await canListen(p - 2)) && (await canListen(p + 1)) && (await canListen(p))) return p;
  }
  throw new Error('compat: no free port triple for the Apache broker');
}

const JVM_OPTS = [
  '-Xms256m',
  '-Xmx256m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '--add-opens',
  'java.base/java.nio=ALL-UNNAMED',
  '--add-opens',
  'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-exports',
  'java.base/jdk.internal.ref=ALL-UNNAMED',
];

function toProperties(entries: Record<string, string | number | boolean>): string {
  return Object.entries(entries)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n');
}

export async function startApacheBroker(serverClasspath: string): Promise<BrokerUnderTest> {
  const dir: TempDir = tempDir('compat-apache');
  const home = path.join(dir.path, 'home');
  const store = path.join(dir.path, 'store');
  fs.mkdirSync(home, { recursive: true });
  const namesrvPort = await freePort();
  const brokerPort = await freeBrokerPort();
  const namesrvAddr = `127.0.0.1:${namesrvPort}`;
  const brokerAddr = `127.0.0.1:${brokerPort}`;
  const nsConf = path.join(dir.path, 'namesrv.conf');
  const brokerConf = path.join(dir.path, 'broker.conf');
  fs.writeFileSync(nsConf, toProperties({ listenPort: namesrvPort }) + '\n');
  fs.writeFileSync(
    brokerConf,
    toProperties({
      brokerClusterName: 'DefaultCluster',
      brokerName: 'broker-a',
      brokerId: 0,
      listenPort: brokerPort,
      namesrvAddr,
      storePathRootDir: store,
      storePathCommitLog: path.join(store, 'commitlog'),
      timerWheelEnable: false,
      ...TEST_BROKER_SETTINGS,
    }) + '\n',
  );
  // user.home keeps the Java logs (~/logs/rocketmqlogs) inside the temp dir.
  const env = { ROCKETMQ_HOME: home };
  const jvm = [...JVM_OPTS, `-Duser.home=${home}`, '-cp', serverClasspath];
  const namesrv = spawnExternal('java', [...jvm, 'org.apache.rocketmq.namesrv.NamesrvStartup', '-c', nsConf], { env, name: 'apache namesrv' });
  const startBroker = () => spawnExternal('java', [...jvm, 'org.apache.rocketmq.broker.BrokerStartup', '-c', brokerConf], { env, name: 'apache broker' });
  let broker: ExternalProcess | undefined;
  let probe = new ProtocolProbe();
  const stopAll = async () => {
    probe.close();
    await Promise.all([broker?.stop(15_000), namesrv.stop(15_000)]);
  };
  try {
    await namesrv.waitForLine(/The Name Server boot success/, READY_TIMEOUT_MS);
    broker = startBroker();
    await broker.waitForLine(/The broker\[.*\] boot success/, READY_TIMEOUT_MS);
    await waitRoutable(probe, namesrvAddr, 'TBW102', brokerAddr);
  } catch (err) {
    await stopAll();
    dir.cleanup();
    throw err;
  }
  return {
    kind: 'apache',
    namesrvAddr,
    brokerAddr,
    async createTopic(topic, queues = 4) {
      await probe.createTopic(brokerAddr, topic, queues);
      await waitRoutable(probe, namesrvAddr, topic);
    },
    async restartBroker() {
      await broker?.stop(30_000);
      // stale connections to the old process: start over
      probe.close();
      probe = new ProtocolProbe();
      broker = startBroker();
      await broker.waitForLine(/The broker\[.*\] boot success/, READY_TIMEOUT_MS);
      await waitRoutable(probe, namesrvAddr, 'TBW102', brokerAddr);
    },
    async stop() {
      await stopAll();
      dir.cleanup();
    },
  };
}
