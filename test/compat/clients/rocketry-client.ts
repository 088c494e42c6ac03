/**
 * Our client (`@rocketry/framework`: Producer, TransactionProducer, PushConsumer, the typed MQClientAPI
 * for queries) as a matrix column. Scenarios run in this process; every client is shut down afterwards.
 * The checks mirror the Java driver's (test/compat/java/driver/.../Driver.java) scenario by scenario.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOffsetMessageId } from '@rocketry/broker/protocol';
import {
  Producer,
  PushConsumer,
  TransactionProducer,
  type LocalTransactionState,
  type Message,
  type MessageExt,
  type PushConsumerOptions,
  type SendResult,
} from '@rocketry/framework';
import { ALL_SCENARIOS, runAcrossRestart, type ClientUnderTest, type ScenarioContext, type ScenarioName } from '../scenarios';

const WAIT_MS = 40_000;
const FAST = { pollNameServerIntervalMs: 1000, heartbeatBrokerIntervalMs: 2000, persistConsumerOffsetIntervalMs: 1000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

async function waitUntil(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const bodyOf = (m: MessageExt) => m.body.toString('utf8');
const keysOf = (m: MessageExt) => m.keys.join(' ');

/** One scenario's clients; `close()` shuts them all down (consumers first). */
class Session {
  private readonly consumers: PushConsumer[] = [];
  private readonly producers: Producer[] = [];
  private seq = 0;
  readonly offsetDir: string;

  constructor(private readonly ctx: ScenarioContext) {
    this.offsetDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-compat-offsets-'));
  }

  private instance(prefix: string): string {
    return `${prefix}-${process.pid}-${Date.now().toString(36)}-${this.seq++}`;
  }

  async producer(): Promise<Producer> {
    const p = new Producer({ namesrvAddr: this.ctx.broker.namesrvAddr, group: `${this.ctx.group}_P`, instanceName: this.instance('p'), ...FAST });
    await p.start();
    this.producers.push(p);
    return p;
  }

  async transactionProducer(listener: ConstructorParameters<typeof TransactionProducer>[0]['listener']): Promise<TransactionProducer> {
    const p = new TransactionProducer({
      namesrvAddr: this.ctx.broker.namesrvAddr,
      group: `${this.ctx.group}_TP`,
      instanceName: this.instance('tp'),
      listener,
      ...FAST,
    });
    await p.start();
    this.producers.push(p);
    return p;
  }

  async consumer(
    opts: Partial<PushConsumerOptions> & { topic?: string; sub?: string },
    handler: (m: MessageExt) => boolean | Promise<boolean>,
  ): Promise<PushConsumer> {
    const { topic, sub, ...rest } = opts;
    const c = new PushConsumer({
      namesrvAddr: this.ctx.broker.namesrvAddr,
      group: this.ctx.group,
      instanceName: this.instance('c'),
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      rebalanceIntervalMs: 1000,
      offsetStoreDir: this.offsetDir,
      ...FAST,
      ...rest,
    });
    c.subscribe(topic ?? this.ctx.topic, sub ?? '*');
    c.onMessage(async (m) => ((await handler(m)) ? 'CONSUME_SUCCESS' : 'RECONSUME_LATER'));
    await c.start();
    this.consumers.push(c);
    return c;
  }

  async shutdownConsumer(c: PushConsumer): Promise<void> {
    this.consumers.splice(this.consumers.indexOf(c), 1);
    await c.shutdown({ awaitTerminationMs: 5000 });
  }

  async close(): Promise<void> {
    for (const c of this.consumers.splice(0)) await c.shutdown({ awaitTerminationMs: 3000 }).catch(() => undefined);
    for (const p of this.producers.splice(0)) await p.shutdown().catch(() => undefined);
    fs.rmSync(this.offsetDir, { recursive: true, force: true });
  }
}

function msg(topic: string, tags: string, key: string, body: string, extra: Partial<Message> = {}): Message {
  return { topic, tags, keys: [key], body, ...extra };
}

async function expectBodies(s: Session, prefix: string, n: number): Promise<Map<string, MessageExt>> {
  const got = new Map<string, MessageExt>();
  await s.consumer({}, (m) => {
    got.set(bodyOf(m), m);
    return true;
  });
  await waitUntil(`${n} messages ${prefix}*`, () => got.size >= n);
  for (let i = 0; i < n; i++) check(got.has(`${prefix}${i}`), `missing ${prefix}${i}`);
  return got;
}

type Scenario = (s: Session, ctx: ScenarioContext, phase?: string) => Promise<void>;

const scenarios: Record<ScenarioName, Scenario> = {
  async 'send-sync'(s, { topic }) {
    const p = await s.producer();
    const sent = new Map<string, SendResult>();
    for (let i = 0; i < 9; i++) {
      const tag = ['TagA', 'TagB', 'TagC'][i % 3]!;
      const r = await p.send(msg(topic, tag, `k-${i}`, `sync-${i}`));
      check(r.status === 'SEND_OK', `status ${r.status}`);
      check(/^([0-9A-F]{32}|[0-9A-F]{56})$/.test(r.msgId), `uniq msgId format ${r.msgId}`);
      check(/^[0-9A-F]{32}$/.test(r.offsetMsgId), `offsetMsgId format ${r.offsetMsgId}`);
      check(r.msgId !== r.offsetMsgId, 'msgId must differ from offsetMsgId');
      sent.set(`sync-${i}`, r);
    }
    const got = new Map<string, MessageExt>();
    await s.consumer({ sub: 'TagA || TagB' }, (m) => {
      got.set(bodyOf(m), m);
      return true;
    });
    await waitUntil('6 TagA/TagB messages', () => got.size >= 6);
    await sleep(1000);
    check(got.size === 6, `expected 6 filtered messages, got ${[...got.keys()].join(',')}`);
    for (const [b, m] of got) {
      const r = sent.get(b);
      check(r, `unexpected body ${b}`);
      check(m.tags !== 'TagC', 'TagC leaked through the filter');
      check(m.msgId === r.msgId, `consumer msgId ${m.msgId} != send msgId ${r.msgId}`);
      check(m.offsetMsgId === r.offsetMsgId, 'consumer offsetMsgId != send offsetMsgId');
      check(keysOf(m) === `k-${b.slice(5)}`, `keys ${keysOf(m)}`);
      check(m.queueOffset === r.queueOffset, `queueOffset ${m.queueOffset} != ${r.queueOffset}`);
    }
  },

  async 'send-async'(s, { topic }) {
    const p = await s.producer();
    const n = 20;
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => p.sendAsync(msg(topic, 'TagA', `k-${i}`, `async-${i}`))));
    const failed = results.filter((r) => r.status === 'rejected' || r.value.status !== 'SEND_OK');
    check(failed.length === 0, `async failures: ${failed.map((f) => (f.status === 'rejected' ? String(f.reason) : f.value.status)).join('; ')}`);
    await expectBodies(s, 'async-', n);
  },

  async 'send-oneway'(s, { topic }) {
    const p = await s.producer();
    for (let i = 0; i < 10; i++) await p.sendOneway(msg(topic, 'TagA', `k-${i}`, `oneway-${i}`));
    await expectBodies(s, 'oneway-', 10);
  },

  async 'send-batch'(s, { topic }) {
    const p = await s.producer();
    const n = 10;
    const r = await p.sendBatch(Array.from({ length: n }, (_, i) => msg(topic, 'TagA', `k-${i}`, `batch-${i}`)));
    check(r.status === 'SEND_OK', `batch status ${r.status}`);
    check(r.msgId.split(',').length === n, `batch msgId should join ${n} ids: ${r.msgId}`);
    check(r.offsetMsgId.split(',').length === n, `batch offsetMsgId should join ${n} ids: ${r.offsetMsgId}`);
    const got = await expectBodies(s, 'batch-', n);
    for (let i = 0; i < n; i++) {
      const m = got.get(`batch-${i}`)!;
      check(m.queueId === r.messageQueue.queueId, 'batch member in another queue');
      check(m.queueOffset === r.queueOffset + i, `batch offsets not consecutive at ${i}`);
    }
  },

  async orderly(s, { topic }) {
    const p = await s.producer();
    const orders = 3;
    const steps = 8;
    const queueOfOrder = new Map<string, number>();
    for (let st = 0; st < steps; st++) {
      for (let o = 0; o < orders; o++) {
        const r = await p.sendOrderly(msg(topic, 'TagA', `order-${o}`, `order-${o}-${st}`), `order-${o}`);
        const prev = queueOfOrder.get(`order-${o}`);
        check(prev === undefined || prev === r.messageQueue.queueId, 'order moved queues');
        queueOfOrder.set(`order-${o}`, r.messageQueue.queueId);
      }
    }
    const seen = new Map<string, number[]>();
    let total = 0;
    let concurrentSameQueue = 0;
    const busy = new Set<number>();
    await s.consumer({ orderly: true }, async (m) => {
      if (busy.has(m.queueId)) concurrentSameQueue++;
      busy.add(m.queueId);
      try {
        const [, o, st] = bodyOf(m).split('-');
        const list = seen.get(`order-${o}`) ?? [];
        list.push(Number(st));
        seen.set(`order-${o}`, list);
        total++;
        await sleep(2);
      } finally {
        busy.delete(m.queueId);
      }
      return true;
    });
    await waitUntil('all orderly messages', () => total >= orders * steps);
    check(concurrentSameQueue === 0, 'a queue was consumed concurrently');
    for (let o = 0; o < orders; o++) {
      const list = seen.get(`order-${o}`);
      check(list && list.length === steps, `order-${o} got ${String(list)}`);
      list.forEach((st, i) => check(st === i, `order-${o} out of sequence: ${list.join(',')}`));
    }
  },

  async clustering(s, { topic }) {
    const owner = new Map<string, string>();
    let dups = 0;
    const handler = (name: string) => (m: MessageExt) => {
      if (owner.has(bodyOf(m))) dups++;
      else owner.set(bodyOf(m), name);
      return true;
    };
    const c1 = await s.consumer({}, handler('c1'));
    const c2 = await s.consumer({}, handler('c2'));
    await waitUntil('queues split between both consumers', () => {
      const a = c1.assignedQueues().filter((q) => q.topic === topic).length;
      const b = c2.assignedQueues().filter((q) => q.topic === topic).length;
      return a > 0 && b > 0 && a + b === 4;
    });
    const p = await s.producer();
    const n = 24;
    for (let i = 0; i < n; i++) await p.send(msg(topic, 'TagA', `k-${i}`, `cl-${i}`));
    await waitUntil('all clustering messages', () => owner.size >= n);
    await sleep(500);
    check(dups === 0, `${dups} duplicate deliveries`);
    const owners = new Set(owner.values());
    check(owners.has('c1') && owners.has('c2'), 'one consumer got everything');
  },

  async broadcasting(s, { topic }) {
    const a = new Set<string>();
    const b = new Set<string>();
    await s.consumer({ messageModel: 'BROADCASTING' }, (m) => Boolean(a.add(bodyOf(m))));
    await s.consumer({ messageModel: 'BROADCASTING' }, (m) => Boolean(b.add(bodyOf(m))));
    await sleep(3000);
    const p = await s.producer();
    const n = 10;
    for (let i = 0; i < n; i++) await p.send(msg(topic, 'TagA', `k-${i}`, `bc-${i}`));
    await waitUntil('both broadcasting consumers got all', () => a.size >= n && b.size >= n);
  },

  async 'retry-dlq'(s, { topic, group }) {
    const p = await s.producer();
    await p.send(msg(topic, 'TagA', 'dlq-key', 'dlq-body'));
    const attempts: number[] = [];
    const topics: string[] = [];
    await s.consumer({ maxReconsumeTimes: 2 }, (m) => {
      attempts.push(m.reconsumeTimes);
      topics.push(m.topic);
      return false;
    });
    await waitUntil('3 deliveries (reconsumeTimes 0,1,2)', () => attempts.length >= 3);
    const dlq = new Map<string, MessageExt>();
    await s.consumer({ group: `${group}_DLQ_READER`, topic: `%DLQ%${group}` }, (m) => {
      dlq.set(bodyOf(m), m);
      return true;
    });
    await waitUntil(`message in %DLQ%${group}`, () => dlq.has('dlq-body'));
    check(attempts.slice(0, 3).join(',') === '0,1,2', `reconsumeTimes sequence ${attempts.join(',')}`);
    check(attempts.length === 3, `delivered after DLQ: ${attempts.join(',')}`);
    for (const t of topics) check(t === topic, `retry delivered under topic ${t}`);
    const d = dlq.get('dlq-body')!;
    check(keysOf(d) === 'dlq-key', `DLQ keys ${keysOf(d)}`);
    check(d.properties['RETRY_TOPIC'] === topic, `DLQ RETRY_TOPIC ${d.properties['RETRY_TOPIC']}`);
  },

  async delay(s, { topic }) {
    const p = await s.producer();
    const got = new Map<string, { at: number; topic: string }>();
    await s.consumer({}, (m) => {
      got.set(bodyOf(m), { at: Date.now(), topic: m.topic });
      return true;
    });
    await sleep(1500);
    const sentAt = new Map<string, number>();
    for (let i = 0; i < 3; i++) {
      sentAt.set(`delay-${i}`, Date.now());
      await p.send(msg(topic, 'TagA', `k-${i}`, `delay-${i}`, { delayLevel: 2 }));
    }
    await waitUntil('delayed messages', () => got.size >= 3);
    for (const [b, t] of sentAt) {
      const g = got.get(b)!;
      check(g.at - t >= 1500, `${b} arrived after only ${g.at - t} ms`);
      check(g.topic === topic, `delayed message topic ${g.topic}`);
    }
  },

  async transaction(s, { topic }) {
    const checks: Array<{ keys: string; topic: string; transactionId: string | undefined; body: string }> = [];
    const p = await s.transactionProducer({
      executeLocalTransaction(m): LocalTransactionState {
        const k = String(m.keys);
        return k.startsWith('commit') ? 'COMMIT' : k.startsWith('rollback') ? 'ROLLBACK' : 'UNKNOWN';
      },
      checkLocalTransaction(m): LocalTransactionState {
        checks.push({ keys: keysOf(m), topic: m.topic, transactionId: m.transactionId ?? m.properties['UNIQ_KEY'], body: bodyOf(m) });
        return keysOf(m).startsWith('rollback') ? 'ROLLBACK' : 'COMMIT';
      },
    });
    const got = new Map<string, MessageExt>();
    await s.consumer({}, (m) => {
      got.set(bodyOf(m), m);
      return true;
    });
    for (const k of ['commit', 'rollback', 'unknown']) {
      const r = await p.sendMessageInTransaction(msg(topic, 'TagA', k, `tx-${k}`));
      check(r.status === 'SEND_OK', `half send ${r.status}`);
    }
    await waitUntil('committed + checked-back messages', () => got.has('tx-commit') && got.has('tx-unknown'));
    await sleep(3000);
    check(!got.has('tx-rollback'), 'rolled-back message was delivered');
    const unknown = checks.find((c) => c.keys === 'unknown');
    check(unknown, `no check-back for the UNKNOWN transaction: ${JSON.stringify(checks)}`);
    check(unknown.topic === topic, `check-back message topic ${unknown.topic}`);
    check(unknown.body === 'tx-unknown', `check-back body ${unknown.body}`);
    check(unknown.transactionId, 'check-back transactionId missing');
    check(got.get('tx-unknown')!.topic === topic, 'delivered topic');
  },

  async 'query-key'(s, { topic, broker }) {
    const p = await s.producer();
    const key = `qk-${Date.now()}`;
    const begin = Date.now() - 60_000;
    for (let i = 0; i < 3; i++) await p.send(msg(topic, 'TagA', key, `qk-${i}`));
    await p.send(msg(topic, 'TagA', 'other-key', 'qk-other'));
    const api = p.clientInstance.api;
    let found = new Set<string>();
    await waitUntil('query by key finds 3 messages', () => {
      void api
        .queryMessage(broker.brokerAddr, { topic, key, maxNum: 32, beginTimestamp: begin, endTimestamp: Date.now() + 60_000 })
        .then((r) => {
          found = new Set(r.messages.filter((m) => keysOf(m) === key).map(bodyOf));
        })
        .catch(() => undefined);
      return found.size >= 3;
    });
    check([...found].sort().join(',') === 'qk-0,qk-1,qk-2', `found ${[...found].join(',')}`);
  },

  async 'query-id'(s, { topic, broker }) {
    const p = await s.producer();
    const r = await p.send(msg(topic, 'TagA', 'qid', 'qid-body'));
    const id = parseOffsetMessageId(r.offsetMsgId);
    const api = p.clientInstance.api;
    const byOffset = await api.viewMessage(`${id.address.host}:${id.address.port}`, id.offset);
    check(bodyOf(byOffset) === 'qid-body', `view by offsetMsgId body ${bodyOf(byOffset)}`);
    check(byOffset.topic === topic, `view by offsetMsgId topic ${byOffset.topic}`);
    check(byOffset.msgId === r.msgId, `view msgId ${byOffset.msgId}`);
    let byUniq: MessageExt | undefined;
    await waitUntil('view by UNIQ_KEY', () => {
      void api
        .queryMessage(broker.brokerAddr, { topic, key: r.msgId, maxNum: 32, beginTimestamp: 0, endTimestamp: Date.now() + 60_000, _UNIQUE_KEY_QUERY: true })
        .then((q) => {
          byUniq = q.messages.find((m) => m.msgId === r.msgId);
        })
        .catch(() => undefined);
      return byUniq !== undefined;
    });
    check(bodyOf(byUniq!) === 'qid-body', 'view by uniq key body');
  },

  async 'offsets-restart'(s, { topic }, phase) {
    const p = await s.producer();
    const prefix = phase === '1' ? 'old-' : 'new-';
    for (let i = 0; i < 5; i++) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        try {
          await p.send(msg(topic, 'TagA', `k-${i}`, `${prefix}${i}`));
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(500);
        }
      }
    }
    const got = new Set<string>();
    const c = await s.consumer({}, (m) => Boolean(got.add(bodyOf(m))));
    await waitUntil(`5 ${prefix} messages`, () => [...got].filter((b) => b.startsWith(prefix)).length >= 5);
    await sleep(2000);
    if (phase === '2') for (const b of got) check(!b.startsWith('old-'), `re-delivered after restart: ${b}`);
    await s.shutdownConsumer(c);
  },
};

export function rocketryClient(): ClientUnderTest {
  const runOnce = async (scenario: ScenarioName, ctx: ScenarioContext, phase?: string) => {
    const s = new Session(ctx);
    try {
      await scenarios[scenario](s, ctx, phase);
      return { ok: true } as const;
    } catch (err) {
      return { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } as const;
    } finally {
      await s.close();
    }
  };
  return {
    name: 'rocketry',
    supported: ALL_SCENARIOS,
    autoCreatesTopics: true,
    async run(scenario, ctx) {
      if (scenario !== 'offsets-restart') return runOnce(scenario, ctx);
      return runAcrossRestart(ctx, (phase) => runOnce(scenario, ctx, phase));
    },
  };
}
