/**
 * Producer: Apache RocketMQ `DefaultMQProducer` semantics in TypeScript.
 *
 * - Routes come from the NameServer (failover across the list) and are refreshed by the client
 *   instance every `pollNameServerIntervalMs`; a topic with no route yet is sent with the route of
 *   `createTopicKey` (TBW102) so the broker auto-creates it.
 * - Queue choice is round-robin; a retry avoids the broker that just failed, and a broker that failed
 *   at the network level is skipped for `brokerIsolationMs` while another one can take the send.
 * - Retriable failures (connect/timeout/closed, TOPIC_NOT_EXIST, SERVICE_NOT_AVAILABLE, SYSTEM_ERROR,
 *   SYSTEM_BUSY, NO_PERMISSION, ...) are retried on another queue up to `retryTimesWhenSendFailed`
 *   (`...AsyncFailed` for sendAsync) times, all within `sendMsgTimeout`.
 * - Bodies of at least `compressMsgBodyOverHowmuch` bytes are zlib-compressed (level 5, sysFlag
 *   COMPRESSED; never batches). `maxMessageSize` is checked before anything is sent.
 * - msgId = UNIQ_KEY generated here; offsetMsgId = the broker's offset id.
 * All sends share the client instance's one pipelined connection per broker.
 */
import * as zlib from 'node:zlib';
import {
  encodeBatchBody,
  encodeProperties,
  propertiesProblem,
  isRetryTopic,
  isWriteable,
  javaStringHashCode,
  MAX_PROPERTIES_BYTES,
  MessageConst,
  MessageSysFlag,
  UniqueIdGenerator,
  validateTopicName,
  type MessageQueue,
  type SendMessageRequestHeader,
  type TopicRouteData,
} from '@rocketry/broker/protocol';
import { PRODUCER_DEFAULTS, type ClientOptions, type Logger } from '../client-options';
import { isRetriable, MessageTooLargeError, MQClientError, NoRouteError, toClientError } from '../errors';
import { Instrumentation } from '../instrumentation';
import { AutoBatcher } from './auto-batcher';
import { bodyToBuffer, buildSendProperties, type Message } from '../message';
import type { SendResponse, SendStatus } from '../mq-client-api';
import { getOrCreateClientInstance, type MQClientInstance, type ProducerHandle } from '../mq-client-instance';

export interface ProducerOptions extends ClientOptions {
  /** `producerGroup`. Required. */
  group: string;
  /** `sendMsgTimeout` (ms): budget of one send including retries. Default 3000. */
  sendMsgTimeout?: number;
  /** Default 2 (so up to 3 attempts). */
  retryTimesWhenSendFailed?: number;
  /** Default 2. */
  retryTimesWhenSendAsyncFailed?: number;
  /** Bodies of at least this many bytes are compressed. Default 4096. */
  compressMsgBodyOverHowmuch?: number;
  /** zlib level. Default 5. */
  compressLevel?: number;
  /** Body limit in bytes (also for a whole batch). Default 4 MiB. */
  maxMessageSize?: number;
  /** Template topic for auto-create. Default TBW102. */
  createTopicKey?: string;
  /** Queues of an auto-created topic. Default 4. */
  defaultTopicQueueNums?: number;
  /** Retry on another broker when the status is not SEND_OK. Default false. */
  retryAnotherBrokerWhenNotStoreOK?: boolean;
  /** How long a broker that failed at the network level is avoided. Default 30000. */
  brokerIsolationMs?: number;
  /**
   * RocketMQ 5 `autoBatch`: `sendAsync` calls to one topic (without selector, queue, timeout or
   * delay, bodies under `compressMsgBodyOverHowmuch`) are coalesced into SEND_BATCH_MESSAGE requests;
   * each caller still gets its own SendResult. A batch goes to one queue and fails or succeeds as a
   * whole. Default false.
   */
  autoBatch?: boolean;
  /** How long an open batch waits for more messages; 0 = what one event-loop turn sends (no added latency). Default 0. */
  batchMaxDelayMs?: number;
  /** An open batch is sent once it holds this many bytes. Default 32 KiB (RocketMQ 5's default). */
  batchMaxBytes?: number;
}

/** Picks the queue for a message; `queues` is the topic's writable queues sorted by broker and id. */
export type MessageQueueSelector = (queues: readonly MessageQueue[], msg: Message, arg: unknown) => MessageQueue | undefined;

export interface SendOptions {
  /** Custom queue choice (single attempt, as in Java's `send(msg, selector, arg)`). */
  selector?: MessageQueueSelector;
  arg?: unknown;
  /** Send to exactly this queue (single attempt). */
  messageQueue?: MessageQueue;
  /** Overrides `sendMsgTimeout` for this call. */
  timeoutMs?: number;
}

export interface SendCallback {
  onSuccess: (result: SendResult) => void;
  onException?: (error: Error) => void;
}

export interface SendResult {
  status: SendStatus;
  /** UNIQ_KEY (comma-joined for a batch). */
  msgId: string;
  /** The broker's offset msgId (comma-joined for a batch). */
  offsetMsgId: string;
  messageQueue: MessageQueue;
  /** Queue offset (first one for a batch). */
  queueOffset: number;
  transactionId?: string;
  regionId?: string;
  traceOn?: boolean;
}

export interface BatchSendResult extends SendResult {
  msgIds: string[];
  offsetMsgIds: string[];
}

/** One auto-batched sendAsync: the message and the body `validate` returned for it. */
interface BatchEntry {
  msg: Message;
  body: Buffer;
}

/** Each message's share of a batch result: its UNIQ_KEY and offset msgId, base queue offset + index. */
function splitBatchResult(r: BatchSendResult): SendResult[] {
  return r.msgIds.map((msgId, i) => {
    const out: SendResult = { status: r.status, msgId, offsetMsgId: r.offsetMsgIds[i] ?? '', messageQueue: r.messageQueue, queueOffset: r.queueOffset + i };
    if (r.transactionId !== undefined) out.transactionId = r.transactionId;
    if (r.regionId !== undefined) out.regionId = r.regionId;
    if (r.traceOn !== undefined) out.traceOn = r.traceOn;
    return out;
  });
}

/** Java `SelectMessageQueueByHash`: `abs(String.hashCode(arg) % n)`, so the same key picks the same queue as a Java producer. */
export const selectMessageQueueByHash: MessageQueueSelector = (queues, _msg, arg) => {
  if (queues.length === 0) return undefined;
  const key = typeof arg === 'string' ? arg : String(arg);
  return queues[Math.abs(javaStringHashCode(key) % queues.length)];
};

export const selectMessageQueueByRandom: MessageQueueSelector = (queues) => queues[Math.floor(Math.random() * queues.length)];

type SendMode = 'sync' | 'async' | 'oneway';

/** A message turned into wire pieces, ready for any number of attempts. */
interface PreparedSend {
  topic: string;
  body: Buffer;
  sysFlag: number;
  properties: string;
  flag: number;
  batch: boolean;
  uniqKeys: string[];
  reconsumeTimes?: number;
  maxReconsumeTimes?: number;
}

interface TopicPublishInfo {
  topic: string;
  queues: MessageQueue[];
  /** Round-robin position (Java `sendWhichQueue`). */
  next: number;
  /** Built from the auto-create template route. */
  fromTemplate: boolean;
}

const generators = new Map<string, UniqueIdGenerator>();
function uniqueIdGenerator(ip: string): UniqueIdGenerator {
  let gen = generators.get(ip);
  if (!gen) {
    gen = new UniqueIdGenerator({ ip: /^[\d.]+$|:/.test(ip) ? ip : '127.0.0.1' });
    generators.set(ip, gen);
  }
  return gen;
}

function sortQueues(queues: MessageQueue[]): MessageQueue[] {
  return queues.sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : a.queueId - b.queueId));
}

/** Java `topicRouteData2TopicPublishInfo`: writable queues of brokers with a master; `orderTopicConf` wins when set. */
export function publishQueuesOf(topic: string, route: TopicRouteData): MessageQueue[] {
  const out: MessageQueue[] = [];
  if (route.orderTopicConf) {
    for (const part of route.orderTopicConf.split(';')) {
      const [brokerName, nums] = part.split(':');
      const n = Number(nums);
      if (!brokerName || !Number.isInteger(n)) continue;
      for (let i = 0; i < n; i++) out.push({ topic, brokerName, queueId: i });
    }
    return out;
  }
  const masters = new Set(route.brokerDatas.filter((bd) => bd.brokerAddrs['0']).map((bd) => bd.brokerName));
  for (const qd of route.queueDatas) {
    if (!isWriteable(qd.perm) || !masters.has(qd.brokerName)) continue;
    for (let i = 0; i < qd.writeQueueNums; i++) out.push({ topic, brokerName: qd.brokerName, queueId: i });
  }
  return sortQueues(out);
}

function positiveInt(name: string, v: number | undefined, fallback: number, min = 1): number {
  const value = v ?? fallback;
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(v)}`);
  return value;
}

export class Producer implements ProducerHandle {
  readonly group: string;
  readonly instrumentation: Instrumentation;
  readonly sendMsgTimeout: number;
  readonly retryTimesWhenSendFailed: number;
  readonly retryTimesWhenSendAsyncFailed: number;
  readonly compressMsgBodyOverHowmuch: number;
  readonly compressLevel: number;
  readonly maxMessageSize: number;
  readonly createTopicKey: string;
  readonly defaultTopicQueueNums: number;
  readonly retryAnotherBrokerWhenNotStoreOK: boolean;
  readonly brokerIsolationMs: number;
  private readonly options: ProducerOptions;
  private instance: MQClientInstance | undefined;
  private logger: Logger | undefined;
  private idGenerator: UniqueIdGenerator | undefined;
  private state: 'CREATED' | 'RUNNING' | 'SHUTDOWN' = 'CREATED';
  private readonly publishInfos = new Map<string, TopicPublishInfo>();
  /** brokerName → epoch ms until which it is avoided. */
  private readonly brokerUnavailableUntil = new Map<string, number>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  /** The last topic that passed validation (sends mostly repeat one). */
  private lastValidTopic: string | undefined;
  private readonly autoBatcher: AutoBatcher<BatchEntry, SendResult> | undefined;

  constructor(options: ProducerOptions) {
    if (!options || typeof options.group !== 'string' || options.group.length === 0) throw new TypeError('Producer: group is required');
    const groupError = validateTopicName(options.group, 255);
    if (groupError) throw new TypeError(`Producer: invalid group ${JSON.stringify(options.group)}: ${groupError.replace('topic', 'group')}`);
    this.options = options;
    this.group = options.group;
    this.sendMsgTimeout = positiveInt('sendMsgTimeout', options.sendMsgTimeout, PRODUCER_DEFAULTS.sendMsgTimeoutMs);
    this.retryTimesWhenSendFailed = positiveInt('retryTimesWhenSendFailed', options.retryTimesWhenSendFailed, PRODUCER_DEFAULTS.retryTimesWhenSendFailed, 0);
    this.retryTimesWhenSendAsyncFailed = positiveInt(
      'retryTimesWhenSendAsyncFailed',
      options.retryTimesWhenSendAsyncFailed,
      PRODUCER_DEFAULTS.retryTimesWhenSendAsyncFailed,
      0,
    );
    this.compressMsgBodyOverHowmuch = positiveInt('compressMsgBodyOverHowmuch', options.compressMsgBodyOverHowmuch, PRODUCER_DEFAULTS.compressMsgBodyOverHowmuch);
    this.compressLevel = positiveInt('compressLevel', options.compressLevel, PRODUCER_DEFAULTS.compressLevel, 0);
    this.maxMessageSize = positiveInt('maxMessageSize', options.maxMessageSize, PRODUCER_DEFAULTS.maxMessageSize);
    this.createTopicKey = options.createTopicKey ?? PRODUCER_DEFAULTS.createTopicKey;
    this.defaultTopicQueueNums = positiveInt('defaultTopicQueueNums', options.defaultTopicQueueNums, PRODUCER_DEFAULTS.defaultTopicQueueNums);
    this.retryAnotherBrokerWhenNotStoreOK = options.retryAnotherBrokerWhenNotStoreOK ?? PRODUCER_DEFAULTS.retryAnotherBrokerWhenNotStoreOK;
    this.brokerIsolationMs = positiveInt('brokerIsolationMs', options.brokerIsolationMs, PRODUCER_DEFAULTS.brokerIsolationMs, 0);
    if (options.autoBatch) {
      const maxDelayMs = positiveInt('batchMaxDelayMs', options.batchMaxDelayMs, PRODUCER_DEFAULTS.batchMaxDelayMs, 0);
      const maxBytes = positiveInt('batchMaxBytes', options.batchMaxBytes, PRODUCER_DEFAULTS.batchMaxBytes);
      this.autoBatcher = new AutoBatcher<BatchEntry, SendResult>(
        // Tracked per request, not per message: shutdown sends the open batches before it waits.
        {
          sendSingle: (e) => this.track(this.sendOne(e.msg, {}, 'async')),
          sendBatch: (entries) =>
            this.track(this.sendBatchImpl(entries.map((e) => e.msg), {}, 'async', entries.map((e) => e.body))).then(splitBatchResult),
        },
        maxBytes,
        maxDelayMs,
      );
    }
    this.instrumentation = options.instrumentation ?? new Instrumentation((err, event) => this.logger?.warn({ err, event }, 'instrumentation listener failed'));
  }

  /** The shared client instance (after start). */
  get clientInstance(): MQClientInstance {
    if (!this.instance) throw new MQClientError('NOT_RUNNING', `producer ${this.group} is not started`);
    return this.instance;
  }

  get clientId(): string {
    return this.clientInstance.clientId;
  }

  get running(): boolean {
    return this.state === 'RUNNING';
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.state === 'RUNNING') return;
    if (this.state === 'SHUTDOWN') throw new MQClientError('NOT_RUNNING', `producer ${this.group} was shut down; create a new one`);
    const instance = getOrCreateClientInstance(this.options);
    if (!instance.registerProducer(this)) {
      throw new MQClientError('ILLEGAL_ARGUMENT', `producer group ${this.group} is already registered on client ${instance.clientId}; use another instanceName`);
    }
    try {
      await instance.start();
    } catch (err) {
      await instance.unregisterProducer(this.group);
      throw err;
    }
    this.instance = instance;
    this.logger = instance.logger;
    this.idGenerator = uniqueIdGenerator(instance.config.clientIP);
    this.state = 'RUNNING';
    void instance.sendHeartbeatToAllBrokers();
  }

  /** Waits (up to sendMsgTimeout) for sends in flight, unregisters the group and releases the client instance. */
  async shutdown(): Promise<void> {
    if (this.state !== 'RUNNING') {
      this.state = 'SHUTDOWN';
      return;
    }
    this.autoBatcher?.flushAll();
    this.state = 'SHUTDOWN';
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.sendMsgTimeout);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const instance = this.instance!;
    await instance.unregisterProducer(this.group);
    await instance.shutdown();
  }

  // -------------------------------------------------------------------------------------------
  // ProducerHandle

  publishTopics(): Iterable<string> {
    return this.publishInfos.keys();
  }

  onTopicRouteChanged(topic: string, route: TopicRouteData): void {
    if (!this.publishInfos.has(topic)) return;
    this.setPublishInfo(topic, publishQueuesOf(topic, route), false);
  }

  // -------------------------------------------------------------------------------------------
  // Public send API

  /** Synchronous-style send: resolves with the broker's answer, retrying on another broker for retriable failures. */
  send(msg: Message, options: SendOptions = {}): Promise<SendResult> {
    return this.track(this.sendOne(msg, options, 'sync'));
  }

  /** Orderly send: messages with the same shardingKey go to the same queue (hash selector). */
  sendOrderly(msg: Message, shardingKey: string, options: Omit<SendOptions, 'selector' | 'arg'> = {}): Promise<SendResult> {
    return this.send(msg, { ...options, selector: selectMessageQueueByHash, arg: shardingKey });
  }

  /**
   * Async send with `retryTimesWhenSendAsyncFailed` retries. With callbacks, the outcome goes to
   * `onSuccess`/`onException` (nothing is returned); without, a promise is returned.
   */
  sendAsync(msg: Message, callback: SendCallback & SendOptions): void;
  sendAsync(msg: Message, options?: SendOptions): Promise<SendResult>;
  sendAsync(msg: Message, options: (SendOptions & Partial<SendCallback>) | undefined = {}): Promise<SendResult> | void {
    const body = this.autoBatcher && this.batchableBody(msg, options);
    // One batch per topic and waitStoreMsgOK: the two things every message of a batch request shares.
    const promise = body
      ? this.autoBatcher!.add(msg.waitStoreMsgOK === false ? `${msg.topic}\u0000nowait` : msg.topic, { msg, body }, body.length)
      : this.track(this.sendOne(msg, options, 'async'));
    if (!options.onSuccess && !options.onException) return promise;
    const { onSuccess, onException } = options;
    promise.then(
      (result) => {
        try {
          onSuccess?.(result);
        } catch (err) {
          this.logger?.warn({ err }, 'onSuccess callback threw');
        }
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        if (!onException) {
          this.logger?.warn({ err: error }, 'async send failed and no onException callback is set');
          return;
        }
        try {
          onException(error);
        } catch (cbErr) {
          this.logger?.warn({ err: cbErr }, 'onException callback threw');
        }
      },
    );
  }

  /** Fire-and-forget: one attempt, resolves once the request is queued on the connection. */
  async sendOneway(msg: Message, options: Omit<SendOptions, 'timeoutMs'> = {}): Promise<void> {
    await this.track(this.sendOne(msg, options, 'oneway'));
  }

  /** SEND_BATCH_MESSAGE: messages of one topic stored together in one queue; no delay, no compression. */
  sendBatch(msgs: readonly Message[], options: SendOptions = {}): Promise<BatchSendResult> {
    return this.track(this.sendBatchImpl(msgs, options));
  }

  /** Writable queues of a topic (Java `fetchPublishMessageQueues`). */
  async fetchPublishMessageQueues(topic: string): Promise<MessageQueue[]> {
    this.ensureRunning();
    return [...(await this.findPublishInfo(topic)).queues];
  }

  // -------------------------------------------------------------------------------------------
  // Preparation

  private ensureRunning(): MQClientInstance {
    if (this.state !== 'RUNNING' || !this.instance) throw new MQClientError('NOT_RUNNING', `producer ${this.group} is not running (state ${this.state})`);
    return this.instance;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight++;
    return promise.finally(() => {
      this.inFlight--;
      if (this.inFlight === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
  }

  /** Java `Validators.checkMessage` + `checkTopic`. */
  private validate(msg: Message): Buffer {
    if (!msg || typeof msg !== 'object') throw new MQClientError('ILLEGAL_ARGUMENT', 'the message is null');
    if (typeof msg.topic !== 'string') throw new MQClientError('ILLEGAL_ARGUMENT', 'the message topic is missing');
    if (msg.topic !== this.lastValidTopic) {
      const topicError = validateTopicName(msg.topic);
      if (topicError) throw new MQClientError('ILLEGAL_ARGUMENT', topicError);
      if (msg.topic === this.createTopicKey) throw new MQClientError('ILLEGAL_ARGUMENT', `the topic ${msg.topic} is the auto-create template, not allowed to send`);
      this.lastValidTopic = msg.topic;
    }
    if (msg.body === undefined || msg.body === null) throw new MQClientError('ILLEGAL_ARGUMENT', 'the message body is null');
    const body = bodyToBuffer(msg.body);
    if (body.length === 0) throw new MQClientError('ILLEGAL_ARGUMENT', 'the message body length is zero');
    if (body.length > this.maxMessageSize) throw new MessageTooLargeError(body.length, this.maxMessageSize);
    if (msg.delayLevel !== undefined && (!Number.isInteger(msg.delayLevel) || msg.delayLevel < 0)) {
      throw new MQClientError('ILLEGAL_ARGUMENT', `delayLevel must be an integer >= 0, got ${String(msg.delayLevel)}`);
    }
    return body;
  }

  private encodeProps(props: Record<string, string>): string {
    const problem = propertiesProblem(props);
    if (problem) throw new MQClientError('ILLEGAL_ARGUMENT', problem);
    const text = encodeProperties(props);
    if (text.length > MAX_PROPERTIES_BYTES / 3 && Buffer.byteLength(text, 'utf8') > MAX_PROPERTIES_BYTES) {
      throw new MQClientError('ILLEGAL_ARGUMENT', `message properties are over ${MAX_PROPERTIES_BYTES} bytes`);
    }
    return text;
  }

  private prepare(msg: Message): PreparedSend {
    let body = this.validate(msg);
    const uniqKey = this.idGenerator!.next();
    const props = buildSendProperties(msg, uniqKey);
    let sysFlag = 0;
    // Java sendKernelImpl: a TRAN_MSG=true message is a transactional half (PREPARED) message.
    if (props[MessageConst.TRAN_MSG] === 'true') sysFlag |= MessageSysFlag.TRANSACTION_PREPARED_TYPE;
    if (body.length >= this.compressMsgBodyOverHowmuch) {
      body = zlib.deflateSync(body, { level: this.compressLevel });
      sysFlag |= MessageSysFlag.COMPRESSED;
    }
    const prepared: PreparedSend = {
      topic: msg.topic,
      body,
      sysFlag,
      properties: '',
      flag: msg.flag ?? 0,
      batch: false,
      uniqKeys: [props[MessageConst.UNIQ_KEY]!],
    };
    // Retry-topic sends (a consumer's fallback) carry these in header fields, not properties.
    if (isRetryTopic(msg.topic)) {
      const reconsume = props[MessageConst.RECONSUME_TIME];
      if (reconsume !== undefined) {
        prepared.reconsumeTimes = Number(reconsume);
        delete props[MessageConst.RECONSUME_TIME];
      }
      const max = props[MessageConst.MAX_RECONSUME_TIMES];
      if (max !== undefined) {
        prepared.maxReconsumeTimes = Number(max);
        delete props[MessageConst.MAX_RECONSUME_TIMES];
      }
    }
    prepared.properties = this.encodeProps(props);
    return prepared;
  }

  private prepareBatch(msgs: readonly Message[], validatedBodies?: readonly Buffer[]): PreparedSend {
    if (!Array.isArray(msgs) || msgs.length === 0) throw new MQClientError('ILLEGAL_ARGUMENT', 'a batch needs at least one message');
    const topic = msgs[0]!.topic;
    const wait = msgs[0]!.waitStoreMsgOK;
    const entries: Array<{ flag: number; body: Buffer; properties: Record<string, string> }> = [];
    const uniqKeys: string[] = [];
    for (let i = 0; i < msgs.length; i++) {
      const msg = msgs[i]!;
      const body = validatedBodies?.[i] ?? this.validate(msg);
      if (msg.topic !== topic) throw new MQClientError('ILLEGAL_ARGUMENT', `all messages of a batch need the same topic (${topic} vs ${msg.topic})`);
      if (msg.delayLevel !== undefined && msg.delayLevel > 0) throw new MQClientError('ILLEGAL_ARGUMENT', 'delayLevel is not supported for batching');
      if (isRetryTopic(msg.topic)) throw new MQClientError('ILLEGAL_ARGUMENT', 'retry group topics are not supported for batching');
      if (msg.waitStoreMsgOK !== wait) throw new MQClientError('ILLEGAL_ARGUMENT', 'all messages of a batch need the same waitStoreMsgOK');
      const props = buildSendProperties(msg, this.idGenerator!.next());
      const problem = propertiesProblem(props);
      if (problem) throw new MQClientError('ILLEGAL_ARGUMENT', problem);
      uniqKeys.push(props[MessageConst.UNIQ_KEY]!);
      entries.push({ flag: msg.flag ?? 0, body, properties: props });
    }
    let body: Buffer;
    try {
      body = encodeBatchBody(entries);
    } catch (err) {
      throw new MQClientError('ILLEGAL_ARGUMENT', (err as Error).message, { cause: err });
    }
    if (body.length > this.maxMessageSize) throw new MessageTooLargeError(body.length, this.maxMessageSize, `batch of ${msgs.length} messages`);
    const props: Record<string, string> = {};
    if (wait === false) props[MessageConst.WAIT] = 'false';
    return { topic, body, sysFlag: 0, properties: encodeProperties(props), flag: 0, batch: true, uniqKeys };
  }

  // -------------------------------------------------------------------------------------------
  // Routes and queue choice

  private setPublishInfo(topic: string, queues: MessageQueue[], fromTemplate: boolean): TopicPublishInfo {
    const existing = this.publishInfos.get(topic);
    const info: TopicPublishInfo = { topic, queues, next: existing?.next ?? Math.floor(Math.random() * 1024), fromTemplate };
    this.publishInfos.set(topic, info);
    return info;
  }

  /** Java `tryToFindTopicPublishInfo`: cached, else the NameServer, else the auto-create template route. */
  private async findPublishInfo(topic: string): Promise<TopicPublishInfo> {
    const cached = this.publishInfos.get(topic);
    if (cached && cached.queues.length > 0) return cached;
    const instance = this.ensureRunning();
    let lastError: unknown;
    try {
      const route = await instance.updateTopicRouteFromNameServer(topic);
      if (route) {
        const info = this.setPublishInfo(topic, publishQueuesOf(topic, route), false);
        if (info.queues.length > 0) return info;
      }
    } catch (err) {
      lastError = err;
    }
    try {
      const template = await instance.updateTopicRouteFromNameServer(this.createTopicKey);
      if (template) {
        // Java: queue count = min(defaultTopicQueueNums, template queues); the broker creates the topic on first send.
        const queues: MessageQueue[] = [];
        for (const q of publishQueuesOf(topic, template)) if (q.queueId < this.defaultTopicQueueNums) queues.push(q);
        if (queues.length > 0) return this.setPublishInfo(topic, queues, true);
      }
    } catch (err) {
      lastError ??= err;
    }
    throw new NoRouteError(topic, lastError);
  }

  private brokerAvailable(brokerName: string, now: number): boolean {
    const until = this.brokerUnavailableUntil.get(brokerName);
    if (until === undefined) return true;
    if (until <= now) {
      this.brokerUnavailableUntil.delete(brokerName);
      return true;
    }
    return false;
  }

  /** Round-robin, skipping the broker that failed the previous attempt and isolated brokers while others exist. */
  private selectQueue(info: TopicPublishInfo, lastBrokerName: string | undefined): MessageQueue {
    const queues = info.queues;
    const n = queues.length;
    const now = Date.now();
    const checkFaults = this.brokerUnavailableUntil.size > 0;
    for (let i = 0; i < n; i++) {
      const mq = queues[(info.next++ & 0x7fffffff) % n]!;
      if (mq.brokerName === lastBrokerName) continue;
      if (checkFaults && !this.brokerAvailable(mq.brokerName, now)) continue;
      return mq;
    }
    if (lastBrokerName !== undefined) {
      for (let i = 0; i < n; i++) {
        const mq = queues[(info.next++ & 0x7fffffff) % n]!;
        if (mq.brokerName !== lastBrokerName) return mq;
      }
    }
    return queues[(info.next++ & 0x7fffffff) % n]!;
  }

  private recordFault(brokerName: string, err: unknown): void {
    // Network-level trouble isolates the broker; a broker refusal (busy, error) only a moment.
    const networkLevel = err instanceof MQClientError && err.code !== 'BROKER_ERROR';
    const ms = networkLevel ? this.brokerIsolationMs : Math.min(1_000, this.brokerIsolationMs);
    if (ms > 0) this.brokerUnavailableUntil.set(brokerName, Date.now() + ms);
  }

  private async brokerAddress(instance: MQClientInstance, mq: MessageQueue): Promise<string | undefined> {
    let addr = instance.findBrokerAddressInPublish(mq.brokerName);
    if (addr) return addr;
    await instance.updateTopicRouteFromNameServer(mq.topic).catch(() => undefined);
    addr = instance.findBrokerAddressInPublish(mq.brokerName);
    return addr;
  }

  // -------------------------------------------------------------------------------------------
  // Send core

  private header(p: PreparedSend, mq: MessageQueue): SendMessageRequestHeader {
    const h: SendMessageRequestHeader = {
      producerGroup: this.group,
      topic: p.topic,
      defaultTopic: this.createTopicKey,
      defaultTopicQueueNums: this.defaultTopicQueueNums,
      queueId: mq.queueId,
      sysFlag: p.sysFlag,
      bornTimestamp: Date.now(),
      flag: p.flag,
      reconsumeTimes: p.reconsumeTimes ?? 0,
      unitMode: false,
    };
    if (p.properties.length > 0) h.properties = p.properties;
    if (p.maxReconsumeTimes !== undefined) h.maxReconsumeTimes = p.maxReconsumeTimes;
    return h;
  }

  private async sendOne(msg: Message, options: SendOptions, mode: SendMode): Promise<SendResult> {
    const begin = Date.now();
    let prepared: PreparedSend;
    try {
      this.ensureRunning();
      prepared = this.prepare(msg);
    } catch (err) {
      this.emitFailure(msg?.topic ?? '', err, 0, begin, mode);
      throw err;
    }
    const single = options.selector !== undefined || options.messageQueue !== undefined || mode === 'oneway';
    const retries = single ? 0 : mode === 'async' ? this.retryTimesWhenSendAsyncFailed : this.retryTimesWhenSendFailed;
    return this.sendPrepared(prepared, msg, options, mode, retries, begin);
  }

  /** The validated body when `msg` may join an auto batch (invalid messages take the normal path and fail there). */
  private batchableBody(msg: Message, options: SendOptions): Buffer | undefined {
    if (this.state !== 'RUNNING' || options.selector || options.messageQueue || options.timeoutMs !== undefined) return undefined;
    let body: Buffer;
    try {
      body = this.validate(msg);
    } catch {
      return undefined;
    }
    if (body.length >= this.compressMsgBodyOverHowmuch || (msg.delayLevel ?? 0) > 0 || isRetryTopic(msg.topic)) return undefined;
    if (msg.properties?.[MessageConst.TRAN_MSG] === 'true') return undefined;
    return body;
  }

  /** `validatedBodies`: the bodies `validate` already returned for `msgs` (auto batches), so it is not run twice. */
  private async sendBatchImpl(
    msgs: readonly Message[],
    options: SendOptions,
    mode: 'sync' | 'async' = 'sync',
    validatedBodies?: readonly Buffer[],
  ): Promise<BatchSendResult> {
    const begin = Date.now();
    let prepared: PreparedSend;
    try {
      this.ensureRunning();
      prepared = this.prepareBatch(msgs, validatedBodies);
    } catch (err) {
      this.emitFailure(msgs?.[0]?.topic ?? '', err, 0, begin, mode);
      throw err;
    }
    const single = options.selector !== undefined || options.messageQueue !== undefined;
    const retries = single ? 0 : mode === 'async' ? this.retryTimesWhenSendAsyncFailed : this.retryTimesWhenSendFailed;
    const result = await this.sendPrepared(prepared, msgs[0]!, options, mode, retries, begin);
    const offsetMsgIds = result.offsetMsgId.split(',');
    return { ...result, msgIds: prepared.uniqKeys, offsetMsgIds };
  }

  private emitFailure(topic: string, err: unknown, attempts: number, begin: number, mode: SendMode): void {
    if (!this.instrumentation.has('send.failure')) return;
    this.instrumentation.emit('send.failure', {
      topic,
      producerGroup: this.group,
      error: err instanceof Error ? err : new Error(String(err)),
      attempts,
      elapsedMs: Date.now() - begin,
      mode,
    });
  }

  private async pickQueue(p: PreparedSend, msg: Message, options: SendOptions, lastBroker: string | undefined): Promise<MessageQueue> {
    if (options.messageQueue) {
      if (options.messageQueue.topic !== p.topic) throw new MQClientError('ILLEGAL_ARGUMENT', `message queue topic ${options.messageQueue.topic} differs from ${p.topic}`);
      return options.messageQueue;
    }
    const info = await this.findPublishInfo(p.topic);
    if (options.selector) {
      const mq = options.selector(info.queues, msg, options.arg);
      if (!mq) throw new MQClientError('ILLEGAL_ARGUMENT', `the selector chose no queue for topic ${p.topic}`);
      return mq;
    }
    return this.selectQueue(info, lastBroker);
  }

  /**
   * Java `sendDefaultImpl`: up to 1 + retries attempts within the timeout; non-retriable failures
   * end it at once. Oneway resolves with a placeholder result (status SEND_OK, no offsets).
   */
  private async sendPrepared(p: PreparedSend, msg: Message, options: SendOptions, mode: SendMode, retries: number, begin: number): Promise<SendResult> {
    const instance = this.ensureRunning();
    const timeoutMs = options.timeoutMs ?? this.sendMsgTimeout;
    let lastBroker: string | undefined;
    let lastError: Error | undefined;
    let attempt = 0;
    for (; attempt <= retries; attempt++) {
      const elapsed = Date.now() - begin;
      if (elapsed >= timeoutMs) {
        lastError = new MQClientError('SEND_TIMEOUT', `send to ${p.topic} timed out after ${elapsed} ms (${attempt} attempts)`, {
          retriable: true,
          cause: lastError,
        });
        break;
      }
      let mq: MessageQueue;
      try {
        mq = await this.pickQueue(p, msg, options, lastBroker);
      } catch (err) {
        lastError = toClientError(err);
        break;
      }
      if (attempt > 0 && this.instrumentation.has('retry')) {
        this.instrumentation.emit('retry', { topic: p.topic, producerGroup: this.group, attempt: attempt + 1, brokerName: lastBroker, error: lastError! });
      }
      const addr = await this.brokerAddress(instance, mq);
      if (!addr) {
        lastError = new MQClientError('NO_BROKER_ADDRESS', `no address for broker ${mq.brokerName} of topic ${p.topic}`, { retriable: true });
        lastBroker = mq.brokerName;
        continue;
      }
      try {
        const header = this.header(p, mq);
        if (mode === 'oneway') {
          await instance.api.sendMessageOneway(addr, header, p.body, p.batch);
          return this.finish(p, mq, addr, { status: 'SEND_OK', offsetMsgId: '', queueId: mq.queueId, queueOffset: -1 }, attempt, begin, mode);
        }
        const response = await instance.api.sendMessage(addr, header, p.body, Math.max(1, timeoutMs - (Date.now() - begin)), p.batch);
        this.brokerUnavailableUntil.delete(mq.brokerName);
        if (response.status !== 'SEND_OK' && this.retryAnotherBrokerWhenNotStoreOK && attempt < retries) {
          lastBroker = mq.brokerName;
          lastError = new MQClientError('BROKER_ERROR', `broker ${mq.brokerName} answered ${response.status}`, { retriable: true });
          continue;
        }
        return this.finish(p, mq, addr, response, attempt, begin, mode);
      } catch (err) {
        const error = toClientError(err, addr);
        lastError = error;
        lastBroker = mq.brokerName;
        if (!isRetriable(error)) break;
        this.recordFault(mq.brokerName, error);
        this.logger?.debug({ err: error, topic: p.topic, broker: mq.brokerName, attempt: attempt + 1 }, 'send attempt failed');
      }
    }
    const error = lastError ?? new MQClientError('SEND_TIMEOUT', `send to ${p.topic} failed`);
    this.emitFailure(p.topic, error, Math.min(attempt + 1, retries + 1), begin, mode);
    throw error;
  }

  private finish(p: PreparedSend, mq: MessageQueue, addr: string, response: SendResponse, attempt: number, begin: number, mode: SendMode): SendResult {
    const messageQueue: MessageQueue = { topic: p.topic, brokerName: mq.brokerName, queueId: response.queueId };
    const result: SendResult = {
      status: response.status,
      msgId: p.uniqKeys.join(','),
      offsetMsgId: response.offsetMsgId,
      messageQueue,
      queueOffset: response.queueOffset,
    };
    if (response.transactionId !== undefined) result.transactionId = response.transactionId;
    if (response.regionId !== undefined) result.regionId = response.regionId;
    if (response.traceOn !== undefined) result.traceOn = response.traceOn;
    if (this.instrumentation.has('send')) {
      this.instrumentation.emit('send', {
        topic: p.topic,
        producerGroup: this.group,
        messageQueue,
        brokerAddr: addr,
        msgId: result.msgId,
        status: result.status,
        count: p.uniqKeys.length,
        attempts: attempt + 1,
        elapsedMs: Date.now() - begin,
        mode,
      });
    }
    return result;
  }
}

