/**
 * Shared pieces of the transaction suites: a `rocketry start` process with fast transaction checks,
 * topics created up front, a collecting consumer, and child `tx-app.ts` processes.
 */
import path from 'node:path';
import { PushConsumer } from '../../../framework/src/client/consumer/push-consumer';
import type { MessageExt } from '../../../framework/src/client/message';
import { jsonLines, spawnNode, type ManagedChild } from '../../helpers/child-process';
import { REPO_ROOT, tempDir, type TempDir } from '../../helpers/env';
import { ProtocolProbe } from '../../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../../helpers/rocketry-process';
import { ensureTopic } from '../../helpers/topics';

export const TX_APP = path.join(REPO_ROOT, 'test', 'e2e', 'tx-scripts', 'tx-app.ts');

/** Broker check settings of these suites: a half is checked once it is 1 s old, every second. */
export const FAST_CHECKS = { transactionCheckInterval: 1_000, transactionTimeOut: 1_000, transactionCheckMax: 30 } as const;

export interface TxBroker {
  dir: TempDir;
  rocketry: RocketryProcess;
  probe: ProtocolProbe;
  namesrvAddr: string;
  brokerAddr: string;
  createTopic(topic: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startTxBroker(name: string): Promise<TxBroker> {
  const dir = tempDir(name);
  const rocketry = await startRocketryProcess({ mode: 'start', dataDir: dir.path, settings: { ...FAST_CHECKS }, name: `rocketry start (${name})` });
  const probe = new ProtocolProbe();
  const namesrvAddr = rocketry.namesrvAddr!;
  const brokerAddr = rocketry.brokerAddr!;
  return {
    dir,
    rocketry,
    probe,
    namesrvAddr,
    brokerAddr,
    async createTopic(topic) {
      await ensureTopic(probe, brokerAddr, [namesrvAddr], topic, 4);
    },
    async stop() {
      probe.close();
      await rocketry.stop();
      dir.cleanup();
    },
  };
}

/** A consumer of `topic` that counts deliveries per message key (the business id). */
export class CollectingConsumer {
  readonly received = new Map<string, number>();
  readonly messages: MessageExt[] = [];
  private readonly consumer: PushConsumer;

  constructor(namesrvAddr: string, group: string, topic: string) {
    this.consumer = new PushConsumer({ namesrvAddr, group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', clientIP: '127.0.0.1', rebalanceIntervalMs: 1_000 });
    this.consumer.subscribe(topic, '*');
    this.consumer.onMessage((msg) => {
      const key = msg.keys[0] ?? msg.msgId;
      this.received.set(key, (this.received.get(key) ?? 0) + 1);
      this.messages.push(msg);
    });
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  has(key: string): boolean {
    return this.received.has(key);
  }

  shutdown(): Promise<void> {
    return this.consumer.shutdown({ awaitTerminationMs: 1_000 });
  }
}

export interface TxAppEvent {
  event: string;
  id?: string;
  ok?: boolean;
  error?: string;
  txId?: string;
  phase?: string;
  state?: string;
}

export interface TxApp {
  proc: ManagedChild;
  events(): TxAppEvent[];
  ready(): Promise<void>;
  /** Resolves when all ops ran (or the process died, e.g. killed at a phase). */
  settled(timeoutMs?: number): Promise<void>;
}

export function startTxApp(config: Record<string, unknown>, name: string): TxApp {
  const proc = spawnNode(['--import', 'tsx', TX_APP, JSON.stringify(config)], { name, env: { ROCKETRY_LOG_LEVEL: 'warn' } });
  const events = () => jsonLines<TxAppEvent>(proc.lines());
  return {
    proc,
    events,
    async ready() {
      const line = await proc.waitForLine((l) => l.includes('"event":"ready"') || l.includes('"event":"fatal"'), 30_000);
      if (line.includes('"fatal"')) throw new Error(`${name} failed to start: ${line}\n${proc.output().slice(-3000)}`);
    },
    async settled(timeoutMs = 60_000) {
      await Promise.race([
        proc.waitForLine((l) => l.includes('"event":"idle"') || l.includes('"event":"fatal"'), timeoutMs).catch(() => undefined),
        proc.exited,
      ]);
    },
  };
}
