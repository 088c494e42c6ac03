/**
 * Drives the ali-ons child scripts (test/helpers/ali-ons/*.js): each producer/consumer is its own Node
 * process running the unmodified npm package, reporting through JSON lines on stdout.
 */
import path from 'node:path';
import { jsonLines, spawnNode, type ExitInfo, type ManagedChild } from './child-process';
import { REPO_ROOT, waitFor } from './env';

const SCRIPTS = path.join(REPO_ROOT, 'test', 'helpers', 'ali-ons');

export interface AliOnsProducerConfig {
  nameSrv: string | string[];
  topic: string;
  group?: string;
  /** 0 = send until SIGTERM. */
  count: number;
  tags?: string[];
  keyPrefix?: string;
  bodyPrefix?: string;
  bodySize?: number;
  intervalMs?: number;
  sendTimeoutMs?: number;
  /** Message delay level (DELAY property). */
  delayLevel?: number;
}

export interface SentEvent {
  event: 'sent';
  /** Epoch ms when the script printed the line. */
  t: number;
  i: number;
  key: string;
  tags: string | null;
  body: string;
  msgId: string;
  queueId: number;
  queueOffset: number;
  sendStatus: string;
}

export interface ConsumedEvent {
  event: 'msg';
  /** Epoch ms when the handler ran. */
  t: number;
  pid: number;
  msgId: string;
  keys: string;
  tags: string | null;
  queueId: number;
  queueOffset: number;
  reconsumeTimes: number;
  topic: string;
  retryTopic: string | null;
  originMessageId: string | null;
  body: string | null;
  failed: boolean;
}

interface AnyEvent {
  event: string;
  [k: string]: unknown;
}

export interface AliOnsProducer {
  proc: ManagedChild;
  events(): AnyEvent[];
  sent(): SentEvent[];
  errors(): AnyEvent[];
  /** Resolves when the script printed `done` and exited; throws with the output if it failed. */
  finished(timeoutMs: number): Promise<{ exit: ExitInfo; sent: SentEvent[] }>;
  stop(): Promise<ExitInfo>;
}

export function startAliOnsProducer(cfg: AliOnsProducerConfig, name = 'ali-ons producer'): AliOnsProducer {
  const proc = spawnNode([path.join(SCRIPTS, 'producer.js'), JSON.stringify(cfg)], { name });
  const events = () => jsonLines<AnyEvent>(proc.lines());
  const sent = () => events().filter((e): e is AnyEvent & SentEvent => e.event === 'sent');
  return {
    proc,
    events,
    sent,
    errors: () => events().filter((e) => e.event === 'send-error' || e.event === 'fatal'),
    async finished(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        proc.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${name} did not finish within ${timeoutMs} ms; output:\n${proc.output().slice(-4000)}`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      await new Promise((r) => setTimeout(r, 20));
      if (exit.code !== 0) throw new Error(`${name} exited with ${exit.code}/${exit.signal}; output:\n${proc.output().slice(-4000)}`);
      return { exit, sent: sent() };
    },
    stop: () => proc.stop(10_000),
  };
}

export interface AliOnsConsumerConfig {
  nameSrv: string | string[];
  group: string;
  topic: string;
  subExpression?: string;
  messageModel?: 'CLUSTERING' | 'BROADCASTING';
  consumeFromWhere?: 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_TIMESTAMP';
  maxReconsumeTimes?: number;
  failKeys?: string[];
  failAll?: boolean;
  instanceName?: string;
  rebalanceIntervalMs?: number;
  heartbeatIntervalMs?: number;
  pollNameServerIntervalMs?: number;
}

export interface AliOnsConsumer {
  proc: ManagedChild;
  readonly pid: number;
  /** `ip@instance` as ali-ons reports it (available after ready). */
  clientId(): string | undefined;
  ready(timeoutMs?: number): Promise<void>;
  messages(): ConsumedEvent[];
  /** Latest reported queue assignment (ali-ons MessageQueue keys). */
  assignment(): string[];
  /** Waits until `pred(assignment)` holds. */
  waitAssignment(pred: (queues: string[]) => boolean, timeoutMs: number): Promise<string[]>;
  /** Waits until `pred(messages)` holds. */
  waitMessages(pred: (msgs: ConsumedEvent[]) => boolean, timeoutMs: number, what?: string): Promise<ConsumedEvent[]>;
  /** SIGTERM → close() → exit 0. */
  stop(): Promise<ExitInfo>;
}

export function startAliOnsConsumer(cfg: AliOnsConsumerConfig, name = `ali-ons consumer ${cfg.group}`): AliOnsConsumer {
  const proc = spawnNode([path.join(SCRIPTS, 'consumer.js'), JSON.stringify(cfg)], { name });
  const events = () => jsonLines<AnyEvent>(proc.lines());
  const messages = () => events().filter((e): e is AnyEvent & ConsumedEvent => e.event === 'msg');
  const assignment = () => {
    const all = events().filter((e) => e.event === 'assign');
    const last = all[all.length - 1];
    return last ? (last.queues as string[]) : [];
  };
  const self: AliOnsConsumer = {
    proc,
    pid: proc.pid,
    clientId: () => events().find((e) => e.event === 'ready')?.clientId as string | undefined,
    async ready(timeoutMs = 30_000) {
      const line = await proc.waitForLine((l) => l.includes('"event":"ready"') || l.includes('"event":"fatal"'), timeoutMs);
      if (line.includes('"fatal"')) throw new Error(`${name} failed to start: ${line}\n${proc.output().slice(-3000)}`);
    },
    messages,
    assignment,
    waitAssignment(pred, timeoutMs) {
      return waitFor(`${name} assignment`, () => {
        if (proc.exitInfo) throw new Error(`${name} exited: ${proc.output().slice(-3000)}`);
        const a = assignment();
        return pred(a) ? a : undefined;
      }, { timeoutMs, intervalMs: 200 });
    },
    async waitMessages(pred, timeoutMs, what = 'messages') {
      try {
        return await waitFor(`${name} ${what}`, () => {
          const m = messages();
          return pred(m) ? m : undefined;
        }, { timeoutMs, intervalMs: 200 });
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${name} got ${messages().length} messages; output tail:\n${proc.output().slice(-3000)}`);
      }
    },
    stop: () => proc.stop(15_000),
  };
  return self;
}
