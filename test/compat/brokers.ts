/**
 * The two brokers of the matrix, behind one interface:
 *
 *   rocketry  `node bin/rocketry.js start` (NameServer + Broker in one process) via test/helpers
 *   apache    Apache RocketMQ 5.3.x NamesrvStartup + BrokerStartup from the Maven cache (java -cp) via
 *             apache-launcher.ts, with a small heap and C1 only
 *
 * Both get the same test settings: short delay levels (level 2 = 2 s, every other level 1 s so retries are
 * quick), 1 s transaction checks, auto-create on, 16 MiB CommitLog and 300-entry ConsumeQueue files,
 * brokerIP1=127.0.0.1, a temp store.
 */
import { tempDir, waitFor } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { launchApache } from './apache-launcher';

export type BrokerKind = 'rocketry' | 'apache';

export interface BrokerUnderTest {
  readonly kind: BrokerKind;
  readonly namesrvAddr: string;
  readonly brokerAddr: string;
  /** Creates a topic on the broker (UPDATE_AND_CREATE_TOPIC) and waits until the NameServer routes it. */
  createTopic(topic: string, queues?: number): Promise<void>;
  /** Stops the broker cleanly (SIGTERM) and starts it again on the same store and ports. */
  restartBroker(): Promise<void>;
  /** Messages of `topic` the broker holds beyond `group`'s committed offsets, summed over the read queues. */
  consumerLag(topic: string, group: string): Promise<number>;
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

async function consumerLag(probe: ProtocolProbe, namesrvAddr: string, brokerAddr: string, topic: string, group: string): Promise<number> {
  const route = await probe.route(namesrvAddr, topic);
  const queues = route?.queueDatas[0]?.readQueueNums ?? 0;
  let lag = 0;
  for (let queueId = 0; queueId < queues; queueId++) {
    const max = await probe.maxOffset(brokerAddr, topic, queueId);
    lag += max - Math.max(0, await probe.consumerOffset(brokerAddr, group, topic, queueId));
  }
  return lag;
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
    consumerLag: (topic, group) => consumerLag(probe, namesrvAddr, brokerAddr, topic, group),
    async stop() {
      probe.close();
      await proc.stop(15_000);
      dir.cleanup();
    },
  };
}

// ------------------------------------------------------------------------------------------ apache

/** Small heap, C1 only: quick start-up for the matrix (NameServer and Broker alike). */
const APACHE_JVM = ['-Xms256m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

export async function startApacheBroker(serverClasspath: string): Promise<BrokerUnderTest> {
  const apache = await launchApache({
    dirPrefix: 'compat-apache',
    serverClasspath,
    namesrvJvm: APACHE_JVM,
    brokerJvm: APACHE_JVM,
    brokerSettings: { timerWheelEnable: false, ...TEST_BROKER_SETTINGS },
    names: { namesrv: 'apache namesrv', broker: 'apache broker' },
    readyTimeoutMs: READY_TIMEOUT_MS,
    brokerStopTimeoutMs: 15_000,
  });
  const { namesrvAddr, brokerAddr } = apache;
  let probe = new ProtocolProbe();
  const stop = async () => {
    probe.close();
    await apache.stop();
  };
  try {
    await waitRoutable(probe, namesrvAddr, 'TBW102', brokerAddr);
  } catch (err) {
    await stop();
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
      await apache.stopBroker('clean', 30_000);
      // stale connections to the old process: start over
      probe.close();
      probe = new ProtocolProbe();
      await apache.startBroker();
      await waitRoutable(probe, namesrvAddr, 'TBW102', brokerAddr);
    },
    consumerLag: (topic, group) => consumerLag(probe, namesrvAddr, brokerAddr, topic, group),
    stop,
  };
}
