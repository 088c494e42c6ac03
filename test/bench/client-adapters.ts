/**
 * The client libraries under comparison behind one small interface, so the scenario loops in
 * client-worker.ts are identical for every client. Each adapter loads its library lazily: a worker
 * process only loads the one client it measures.
 *
 *   rocketry : our Producer / PushConsumer (@rocketry/framework), default options (`autoBatch` only
 *              in the autobatch scenario)
 *   ali-ons  : the unmodified npm package ali-ons 3.12, default options (it has no async or batch API)
 */

export type BenchClientName = 'rocketry' | 'ali-ons';
export const BENCH_CLIENT_NAMES: readonly BenchClientName[] = ['rocketry', 'ali-ons'];

export interface BenchProducer {
  /** Concurrent async sends are batched by the client (asked for and supported). */
  readonly autoBatch: boolean;
  /** The client's synchronous send (resolves when the broker answered SEND_OK; throws otherwise). */
  send(topic: string, body: Buffer): Promise<void>;
  /** The client's async send (promise form); clients without one use `send`. */
  sendAsync(topic: string, body: Buffer): Promise<void>;
  /** Batch send, when the client has one. */
  sendBatch?(topic: string, bodies: readonly Buffer[]): Promise<void>;
  shutdown(): Promise<void>;
}

export interface BenchConsumer {
  shutdown(): Promise<void>;
}

export interface ClientEndpoints {
  namesrvAddr: string;
  group: string;
}

/** Called once per delivered message with its queue coordinates (for duplicate detection). */
export type DeliveryCallback = (queueId: number, queueOffset: number) => void;

export interface BenchClient {
  readonly name: BenchClientName;
  /** Settings that differ from the library defaults, or notable defaults, for the results file. */
  readonly notes: string;
  createProducer(opts: ClientEndpoints & { autoBatch?: boolean }): Promise<BenchProducer>;
  /** A CLUSTERING push consumer from the first offset, subscribed to `topic` with `*`. */
  startConsumer(opts: ClientEndpoints & { topic: string }, onMessage: DeliveryCallback): Promise<BenchConsumer>;
}

export async function loadBenchClient(name: BenchClientName): Promise<BenchClient> {
  if (name === 'rocketry') return rocketryClient();
  if (name === 'ali-ons') return aliOnsClient();
  throw new Error(`unknown bench client ${String(name)}`);
}

async function rocketryClient(): Promise<BenchClient> {
  const { Producer, PushConsumer } = await import('@rocketry/framework');
  const check = (status: string) => {
    if (status !== 'SEND_OK') throw new Error(`send status ${status}`);
  };
  return {
    name: 'rocketry',
    notes: 'Producer/PushConsumer defaults (consumeThreadMax 20, pullBatchSize 32, pullThresholdForQueue 1000)',
    async createProducer(opts) {
      const producer = new Producer({ namesrvAddr: opts.namesrvAddr, group: opts.group, autoBatch: opts.autoBatch ?? false });
      await producer.start();
      return {
        autoBatch: opts.autoBatch ?? false,
        async send(topic, body) {
          check((await producer.send({ topic, body })).status);
        },
        async sendAsync(topic, body) {
          check((await producer.sendAsync({ topic, body })).status);
        },
        async sendBatch(topic, bodies) {
          check((await producer.sendBatch(bodies.map((body) => ({ topic, body })))).status);
        },
        shutdown: () => producer.shutdown(),
      };
    },
    async startConsumer(opts, onMessage) {
      const consumer = new PushConsumer({
        namesrvAddr: opts.namesrvAddr,
        group: opts.group,
        messageModel: 'CLUSTERING',
        consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      });
      consumer.subscribe(opts.topic, '*');
      consumer.onMessage((msg) => {
        onMessage(msg.queueId, msg.queueOffset);
      });
      await consumer.start();
      return { shutdown: () => consumer.shutdown({ awaitTerminationMs: 2000 }) };
    },
  };
}

// ---- ali-ons: the package ships no types; these describe the part of its API used here. ----

interface AliOnsMessage {
  topic: string;
}
interface AliOnsSendResult {
  sendStatus: string;
}
interface AliOnsReceived {
  queueId: number | string;
  queueOffset: number | string;
}
interface AliOnsProducer {
  ready(): Promise<void>;
  send(msg: AliOnsMessage): Promise<AliOnsSendResult>;
  close(): Promise<void>;
  on(event: 'error', cb: (err: Error) => void): void;
}
interface AliOnsConsumer {
  ready(): Promise<void>;
  subscribe(topic: string, expression: string, handler: (msg: AliOnsReceived) => Promise<void>): void;
  close(): Promise<void>;
  on(event: 'error', cb: (err: Error) => void): void;
}
interface AliOnsModule {
  Producer: new (options: Record<string, unknown>) => AliOnsProducer;
  Consumer: new (options: Record<string, unknown>) => AliOnsConsumer;
  Message: new (topic: string, body: Buffer) => AliOnsMessage;
}

/** ali-ons logs through this; warnings and errors go to stderr (the parent shows them on failure). */
const aliOnsLogger = {
  info() {},
  debug() {},
  warn(...args: unknown[]) {
    process.stderr.write(`[ali-ons warn] ${args.map(String).join(' ')}\n`);
  },
  error(...args: unknown[]) {
    process.stderr.write(`[ali-ons error] ${args.map((a) => (a instanceof Error ? a.stack : String(a))).join(' ')}\n`);
  },
};

async function aliOnsClient(): Promise<BenchClient> {
  const ons = require('ali-ons') as AliOnsModule;
  const httpclient: unknown = require('urllib');
  const base = { httpclient, accessKeyId: 'rocketry-bench', accessKeySecret: 'rocketry-bench', logger: aliOnsLogger };
  return {
    name: 'ali-ons',
    notes: 'ali-ons 3.12 defaults (parallelConsumeLimit 1 per queue, pullBatchSize 32, pullThresholdForQueue 500); no async/batch API',
    async createProducer(opts) {
      const producer = new ons.Producer({ ...base, nameSrv: opts.namesrvAddr, producerGroup: opts.group });
      producer.on('error', (err) => process.stderr.write(`[ali-ons producer error] ${err.message}\n`));
      await producer.ready();
      const send = async (topic: string, body: Buffer) => {
        const r = await producer.send(new ons.Message(topic, body));
        if (r.sendStatus !== 'SEND_OK') throw new Error(`send status ${r.sendStatus}`);
      };
      return { autoBatch: false, send, sendAsync: send, shutdown: () => producer.close() };
    },
    async startConsumer(opts, onMessage) {
      const consumer = new ons.Consumer({
        ...base,
        nameSrv: opts.namesrvAddr,
        consumerGroup: opts.group,
        isBroadcast: false,
        consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      });
      consumer.on('error', (err) => process.stderr.write(`[ali-ons consumer error] ${err.message}\n`));
      await consumer.ready();
      consumer.subscribe(opts.topic, '*', async (msg) => {
        onMessage(Number(msg.queueId), Number(msg.queueOffset));
      });
      return { shutdown: () => consumer.close() };
    },
  };
}
