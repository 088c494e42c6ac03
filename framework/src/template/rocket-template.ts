/**
 * RocketTemplate: rocketmq-spring's `RocketMQTemplate` for Node (feature-anchors.md §1.3).
 *
 * - Destinations are `topic` or `topic:tag`.
 * - Payloads go through a MessageConverter (default: Buffer raw, string as UTF-8, anything else JSON),
 *   which also sets the `contentType` property the listener side reads.
 * - Every send accepts options for keys, user properties, delay level and timeout.
 * - `asyncSend*` return a promise, or take rocketmq-spring's `SendCallback` (then return nothing).
 * - Delays: `delayLevel` (1..18 of the broker's `messageDelayLevel`); `syncSendDelayTimeSeconds` /
 *   `syncSendDelayTimeMills` only accept a duration that IS one of the levels (the 4.x remoting protocol
 *   has no arbitrary-time delay), so nothing is silently rounded.
 * - `sendMessageInTransaction` delegates to the transaction producer given at construction.
 * - With `asyncSendRetry` (or `setAsyncSendRetry`), `asyncSend*` retry with backoff and hand the
 *   message to a fallback (the outbox) after the last attempt instead of dropping it.
 */
import { DEFAULT_MESSAGE_DELAY_LEVEL, parseDelayLevels } from '@rocketry/broker';
import { MQClientError } from '../client/errors';
import type { Message } from '../client/message';
import {
  Producer,
  selectMessageQueueByHash,
  type BatchSendResult,
  type MessageQueueSelector,
  type ProducerOptions,
  type SendCallback,
  type SendResult,
} from '../client/producer/producer';
import type { RocketryConfig } from '../config/rocketry-config';
import { CONTENT_TYPE_PROPERTY, DefaultMessageConverter, type MessageConverter } from '../converter/message-converter';
import { AsyncSendRetrier, type AsyncSendRetryOptions } from '../retry/async-send-retry';

export interface RocketSendOptions {
  /** Business keys (`KEYS`), indexed by the broker. */
  keys?: string | readonly string[];
  /** User properties. */
  properties?: Record<string, string>;
  /** Delay level 1..18; 0 = now. */
  delayLevel?: number;
  /** Send timeout for this call (ms); default the producer's `sendMsgTimeout`. */
  timeoutMs?: number;
  /** User flag stored with the message. */
  flag?: number;
  /** `WAIT`: wait for the store before answering. Default true. */
  waitStoreMsgOK?: boolean;
}

/** What a transaction producer must offer (structurally: framework/src/client/producer/transaction-producer.ts). */
export interface TransactionMessageSender {
  sendMessageInTransaction(msg: Message, arg?: unknown): Promise<unknown>;
}

export interface RocketTemplateOptions<TTx extends TransactionMessageSender = TransactionMessageSender> {
  producer: Producer;
  converter?: MessageConverter;
  /** Used by `sendMessageInTransaction`; absent → that call throws (as RocketMQTemplate without a listener). */
  transactionProducer?: TTx;
  /** The broker's delay table, for the `syncSendDelayTime*` helpers. @defaultValue the broker default (18 levels) */
  messageDelayLevel?: string;
  /** Queue selector of the orderly sends. @defaultValue hash of the hash key (Java `SelectMessageQueueByHash`) */
  messageQueueSelector?: MessageQueueSelector;
  /** Start/stop the producer with the template. @defaultValue true */
  ownsProducer?: boolean;
  /**
   * Retry of `asyncSend*` with backoff after the Producer's own retries, and a fallback (e.g. the
   * outbox) after the last attempt; see retry/async-send-retry.ts. @defaultValue none (Producer retries only)
   */
  asyncSendRetry?: AsyncSendRetryOptions;
}

export interface Destination {
  topic: string;
  tag: string | undefined;
}

/** `'topic'` / `'topic:tag'` → parts (rocketmq-spring `RocketMQUtil.getAndWrapMessage`). */
export function parseDestination(destination: string): Destination {
  if (typeof destination !== 'string' || destination.length === 0) throw new MQClientError('ILLEGAL_ARGUMENT', 'destination is required (topic or topic:tag)');
  const i = destination.indexOf(':');
  const topic = i < 0 ? destination : destination.slice(0, i);
  const tag = i < 0 ? undefined : destination.slice(i + 1);
  if (topic.length === 0) throw new MQClientError('ILLEGAL_ARGUMENT', `destination ${JSON.stringify(destination)} has no topic`);
  return { topic, tag: tag === '' ? undefined : tag };
}

function isCallback(x: unknown): x is SendCallback {
  return typeof x === 'object' && x !== null && typeof (x as SendCallback).onSuccess === 'function';
}

/** Producer options from the framework configuration (rocketmq-spring property names → client names). */
export function producerOptionsFromConfig(config: RocketryConfig, overrides: Partial<ProducerOptions> = {}): ProducerOptions {
  const nameServer = overrides.namesrvAddr ?? config.nameServer;
  const group = overrides.group ?? config.producer.group;
  if (!nameServer) throw new MQClientError('ILLEGAL_ARGUMENT', 'rocketmq.name-server is not set (options.nameServer or ROCKETMQ_NAME_SERVER)');
  if (!group) throw new MQClientError('ILLEGAL_ARGUMENT', 'rocketmq.producer.group is not set (options.producer.group or ROCKETMQ_PRODUCER_GROUP)');
  const p = config.producer;
  return {
    sendMsgTimeout: p.sendMessageTimeout,
    compressMsgBodyOverHowmuch: p.compressMessageBodyThreshold,
    retryTimesWhenSendFailed: p.retryTimesWhenSendFailed,
    retryTimesWhenSendAsyncFailed: p.retryTimesWhenSendAsyncFailed,
    retryAnotherBrokerWhenNotStoreOK: p.retryNextServer,
    maxMessageSize: p.maxMessageSize,
    instanceName: p.instanceName,
    ...overrides,
    namesrvAddr: nameServer,
    group,
  };
}

export class RocketTemplate<TTx extends TransactionMessageSender = TransactionMessageSender> {
  readonly producer: Producer;
  readonly converter: MessageConverter;
  private transactionProducer: TTx | undefined;
  private readonly delayLevelsMs: number[];
  private readonly selector: MessageQueueSelector | undefined;
  private readonly ownsProducer: boolean;
  private retrier: AsyncSendRetrier | undefined;

  constructor(options: RocketTemplateOptions<TTx>) {
    if (!options?.producer) throw new MQClientError('ILLEGAL_ARGUMENT', 'RocketTemplate: producer is required');
    this.producer = options.producer;
    this.converter = options.converter ?? new DefaultMessageConverter();
    // A TransactionProducer given as `producer` serves transactions too.
    const own = options.producer as Producer & Partial<TransactionMessageSender>;
    this.transactionProducer = options.transactionProducer ?? (typeof own.sendMessageInTransaction === 'function' ? (own as unknown as TTx) : undefined);
    this.delayLevelsMs = parseDelayLevels(options.messageDelayLevel ?? DEFAULT_MESSAGE_DELAY_LEVEL);
    this.selector = options.messageQueueSelector;
    this.ownsProducer = options.ownsProducer ?? true;
    if (options.asyncSendRetry) this.retrier = new AsyncSendRetrier(this.producer, options.asyncSendRetry);
  }

  /**
   * Turns on (or replaces, or with `undefined` turns off) the async send retry + fallback, e.g.
   * `template.setAsyncSendRetry({ maxAttempts: 3, fallback: outbox })`. Returns the retrier (its
   * `events` and `stats()` show attempts and hand-offs).
   */
  setAsyncSendRetry(options: AsyncSendRetryOptions | undefined): AsyncSendRetrier | undefined {
    this.retrier = options ? new AsyncSendRetrier(this.producer, options) : undefined;
    return this.retrier;
  }

  /** The async send retrier, when configured. */
  get asyncSendRetrier(): AsyncSendRetrier | undefined {
    return this.retrier;
  }

  /** A template with its own Producer built from the configuration (`rocketmq.name-server`, `rocketmq.producer.*`). */
  static fromConfig(config: RocketryConfig, options: Omit<RocketTemplateOptions, 'producer'> & { producer?: Partial<ProducerOptions> } = {}): RocketTemplate {
    const { producer, ...rest } = options;
    return new RocketTemplate({ ...rest, producer: new Producer(producerOptionsFromConfig(config, producer)) });
  }

  /** Starts the producer (no-op if it runs already or the template does not own it). */
  async start(): Promise<void> {
    if (this.ownsProducer && !this.producer.running) await this.producer.start();
  }

  /** Waits for sends in flight (bounded by sendMsgTimeout) and stops the producer it owns. */
  async destroy(): Promise<void> {
    // Sends waiting between retries go straight to their fallback instead of outliving the producer.
    this.retrier?.flush();
    if (this.ownsProducer) await this.producer.shutdown();
  }

  /** Sets (or replaces) the transaction producer used by `sendMessageInTransaction`. */
  setTransactionProducer(tx: TTx | undefined): void {
    this.transactionProducer = tx;
  }

  // ---------------------------------------------------------------------------------------------
  // Conversion

  /** Destination + payload + options → the client Message this template would send. */
  toMessage(destination: string, payload: unknown, options: RocketSendOptions = {}): Message {
    const { topic, tag } = parseDestination(destination);
    const { body, contentType } = this.converter.toMessageBody(payload);
    const properties: Record<string, string> = { ...options.properties };
    if (contentType !== undefined && properties[CONTENT_TYPE_PROPERTY] === undefined) properties[CONTENT_TYPE_PROPERTY] = contentType;
    const msg: Message = { topic, body, properties };
    if (tag !== undefined) msg.tags = tag;
    if (options.keys !== undefined) msg.keys = options.keys;
    if (options.delayLevel !== undefined) msg.delayLevel = options.delayLevel;
    if (options.flag !== undefined) msg.flag = options.flag;
    if (options.waitStoreMsgOK !== undefined) msg.waitStoreMsgOK = options.waitStoreMsgOK;
    return msg;
  }

  private timeout(options: RocketSendOptions | undefined): { timeoutMs?: number } {
    return options?.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
  }

  // ---------------------------------------------------------------------------------------------
  // Sync / async / one-way

  syncSend(destination: string, payload: unknown, options?: RocketSendOptions): Promise<SendResult> {
    return this.producer.send(this.toMessage(destination, payload, options), this.timeout(options));
  }

  asyncSend(destination: string, payload: unknown, options?: RocketSendOptions): Promise<SendResult>;
  asyncSend(destination: string, payload: unknown, callback: SendCallback, options?: RocketSendOptions): void;
  asyncSend(destination: string, payload: unknown, a?: RocketSendOptions | SendCallback, b?: RocketSendOptions): Promise<SendResult> | void {
    if (this.retrier) {
      const retrier = this.retrier;
      if (!isCallback(a)) return retrier.send(this.toMessage(destination, payload, a), this.timeout(a));
      retrier.sendWithCallback(this.toMessage(destination, payload, b), a, this.timeout(b));
      return;
    }
    if (isCallback(a)) {
      const msg = this.toMessage(destination, payload, b);
      this.producer.sendAsync(msg, { ...this.timeout(b), onSuccess: a.onSuccess, ...(a.onException ? { onException: a.onException } : {}) });
      return;
    }
    return this.producer.sendAsync(this.toMessage(destination, payload, a), this.timeout(a));
  }

  sendOneWay(destination: string, payload: unknown, options?: Omit<RocketSendOptions, 'timeoutMs'>): Promise<void> {
    return this.producer.sendOneway(this.toMessage(destination, payload, options));
  }

  // ---------------------------------------------------------------------------------------------
  // Orderly (same hashKey → same queue)

  syncSendOrderly(destination: string, payload: unknown, hashKey: string, options?: RocketSendOptions): Promise<SendResult> {
    const msg = this.toMessage(destination, payload, options);
    return this.producer.send(msg, { ...this.timeout(options), selector: this.orderSelector(), arg: hashKey });
  }

  asyncSendOrderly(destination: string, payload: unknown, hashKey: string, options?: RocketSendOptions): Promise<SendResult>;
  asyncSendOrderly(destination: string, payload: unknown, hashKey: string, callback: SendCallback, options?: RocketSendOptions): void;
  asyncSendOrderly(
    destination: string,
    payload: unknown,
    hashKey: string,
    a?: RocketSendOptions | SendCallback,
    b?: RocketSendOptions,
  ): Promise<SendResult> | void {
    const callback = isCallback(a) ? a : undefined;
    const options = callback ? b : (a as RocketSendOptions | undefined);
    const msg = this.toMessage(destination, payload, options);
    const sendOptions = { ...this.timeout(options), selector: this.orderSelector(), arg: hashKey };
    if (this.retrier) {
      // Same queue on every attempt (order); the hash key travels to the fallback as the sharding key.
      if (!callback) return this.retrier.send(msg, { ...sendOptions, shardingKey: hashKey });
      this.retrier.sendWithCallback(msg, callback, { ...sendOptions, shardingKey: hashKey });
      return;
    }
    if (!callback) return this.producer.sendAsync(msg, sendOptions);
    this.producer.sendAsync(msg, { ...sendOptions, onSuccess: callback.onSuccess, ...(callback.onException ? { onException: callback.onException } : {}) });
  }

  private orderSelector(): MessageQueueSelector {
    return this.selector ?? selectMessageQueueByHash;
  }

  async sendOneWayOrderly(destination: string, payload: unknown, hashKey: string, options?: Omit<RocketSendOptions, 'timeoutMs'>): Promise<void> {
    const msg = this.toMessage(destination, payload, options);
    await this.producer.sendOneway(msg, { selector: this.orderSelector(), arg: hashKey });
  }

  // ---------------------------------------------------------------------------------------------
  // Delay

  /** Delay level whose duration is exactly `delayMs`; throws, listing the levels, when there is none. */
  delayLevelOf(delayMs: number): number {
    const i = this.delayLevelsMs.indexOf(delayMs);
    if (i < 0) {
      throw new MQClientError(
        'ILLEGAL_ARGUMENT',
        `no delay level of exactly ${delayMs} ms; the broker's levels are ${this.delayLevelsMs.map((ms, j) => `${j + 1}=${ms}ms`).join(' ')} (use delayLevel)`,
      );
    }
    return i + 1;
  }

  syncSendDelayTimeSeconds(destination: string, payload: unknown, delaySeconds: number, options?: Omit<RocketSendOptions, 'delayLevel'>): Promise<SendResult> {
    return this.syncSend(destination, payload, { ...options, delayLevel: this.delayLevelOf(delaySeconds * 1000) });
  }

  syncSendDelayTimeMills(destination: string, payload: unknown, delayMs: number, options?: Omit<RocketSendOptions, 'delayLevel'>): Promise<SendResult> {
    return this.syncSend(destination, payload, { ...options, delayLevel: this.delayLevelOf(delayMs) });
  }

  // ---------------------------------------------------------------------------------------------
  // Batch

  /** One SEND_BATCH_MESSAGE: all payloads to one queue of the destination topic (no delay). */
  syncSendBatch(destination: string, payloads: readonly unknown[], options?: Omit<RocketSendOptions, 'delayLevel'>): Promise<BatchSendResult> {
    if (!Array.isArray(payloads) || payloads.length === 0) throw new MQClientError('ILLEGAL_ARGUMENT', 'syncSendBatch needs at least one payload');
    const msgs = payloads.map((p) => this.toMessage(destination, p, options));
    return this.producer.sendBatch(msgs, this.timeout(options));
  }

  // ---------------------------------------------------------------------------------------------
  // Transaction

  /** Half message + local transaction through the transaction producer (RocketMQTemplate.sendMessageInTransaction). */
  sendMessageInTransaction(
    destination: string,
    payload: unknown,
    arg?: unknown,
    options?: Omit<RocketSendOptions, 'delayLevel' | 'timeoutMs'>,
  ): ReturnType<TTx['sendMessageInTransaction']> {
    if (!this.transactionProducer) {
      throw new MQClientError('ILLEGAL_ARGUMENT', 'sendMessageInTransaction: this RocketTemplate has no transaction producer (configure a @TransactionalProducer / transactionProducer)');
    }
    return this.transactionProducer.sendMessageInTransaction(this.toMessage(destination, payload, options), arg) as ReturnType<TTx['sendMessageInTransaction']>;
  }
}
