/**
 * An in-process NameServer + Broker for tests, samples and local development: free ports (the OS
 * picks them), a temporary data directory (removed on stop) unless one is given, and store files
 * sized for a laptop. `stop()` shuts the broker (flushing the store) and the NameServer down.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { BrokerController, defaultBrokerSettings, defaultNamesrvSettings, NameServer, type BrokerSettings } from '@rocketry/broker';

export interface EmbeddedBrokerOptions {
  /** Store root. @defaultValue a new temp dir, deleted by stop() */
  dataDir?: string;
  /** Keep a temp `dataDir` after stop (debugging). @defaultValue false */
  keepDataDir?: boolean;
  /** @defaultValue 0 (a free port) */
  namesrvPort?: number;
  /** @defaultValue 0 (a free port) */
  brokerPort?: number;
  /** Broker settings with RocketMQ names (e.g. `messageDelayLevel`, `flushDiskType`). */
  settings?: Partial<BrokerSettings>;
  /** Topics created at start: names (4 queues) or `{ topic, queueNums }`. */
  topics?: ReadonlyArray<string | { topic: string; queueNums?: number }>;
  /** @defaultValue silent */
  logger?: Logger;
}

export interface EmbeddedBroker {
  /** `127.0.0.1:<port>`: what clients take as `namesrvAddr` / `rocketmq.name-server`. */
  readonly namesrvAddr: string;
  readonly brokerAddr: string;
  readonly dataDir: string;
  readonly broker: BrokerController;
  readonly nameServer: NameServer;
  /** Creates (or updates) a topic and waits until the NameServer routes it. */
  createTopic(topic: string, queueNums?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Store sizes for an embedded broker (the RocketMQ defaults pre-size 1 GiB CommitLog segments). */
const EMBEDDED_STORE_DEFAULTS: Partial<BrokerSettings> = {
  mappedFileSizeCommitLog: 64 * 1024 * 1024,
  mappedFileSizeConsumeQueue: 100_000,
  maxHashSlotNum: 100_000,
  maxIndexNum: 400_000,
};

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const tempRoot = options.dataDir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-embedded-')) : undefined;
  const dataDir = options.dataDir ?? tempRoot!;
  fs.mkdirSync(dataDir, { recursive: true });
  const nameServer = new NameServer(
    { ...defaultNamesrvSettings(), listenHost: '127.0.0.1', listenPort: options.namesrvPort ?? 0, kvConfigPath: path.join(dataDir, 'namesrv', 'kvConfig.json') },
    { logger: logger.child({ component: 'namesrv' }) },
  );
  let broker: BrokerController | undefined;
  const cleanup = async () => {
    if (broker?.running) await broker.shutdown();
    await nameServer.shutdown().catch(() => undefined);
    if (tempRoot && !options.keepDataDir) fs.rmSync(tempRoot, { recursive: true, force: true });
  };
  try {
    await nameServer.start();
    const settings: BrokerSettings = {
      ...defaultBrokerSettings(),
      ...EMBEDDED_STORE_DEFAULTS,
      ...options.settings,
      listenHost: '127.0.0.1',
      brokerIP1: '127.0.0.1',
      listenPort: options.brokerPort ?? 0,
      namesrvAddr: nameServer.address,
      storePathRootDir: path.join(dataDir, 'store'),
    };
    broker = new BrokerController(settings, { logger: logger.child({ component: 'broker' }), registerDebounceMs: 10 });
    await broker.start();
  } catch (err) {
    await cleanup();
    throw err;
  }
  const controller = broker;
  const brokerAddr = `127.0.0.1:${controller.listenPort}`;
  let stopped: Promise<void> | undefined;
  const embedded: EmbeddedBroker = {
    namesrvAddr: nameServer.address,
    brokerAddr,
    dataDir,
    broker: controller,
    nameServer,
    async createTopic(topic, queueNums = 4) {
      controller.topicConfigManager.updateTopicConfig({
        topicName: topic,
        readQueueNums: queueNums,
        writeQueueNums: queueNums,
        perm: 6,
        topicFilterType: 'SINGLE_TAG',
        topicSysFlag: 0,
        order: false,
        attributes: {},
      });
      // Register now rather than after the debounce, so the route exists when this resolves.
      await controller.registerBrokerAll();
    },
    stop() {
      stopped ??= cleanup();
      return stopped;
    },
  };
  try {
    for (const t of options.topics ?? []) {
      if (typeof t === 'string') await embedded.createTopic(t);
      else await embedded.createTopic(t.topic, t.queueNums);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return embedded;
}
