/**
 * `createOutbox`: the transactional outbox (local message table) on knex.
 *
 * ```ts
 * const outbox = createOutbox({ knex, template });          // or { knex, producer }
 * await outbox.migrate();                                    // or knex migrations: OutboxMigrationSource
 * await knex.transaction(async (trx) => {
 *   await trx('orders').insert(order);
 *   await outbox.enqueue(trx, { topic: 'Orders', tags: 'Created', keys: [order.id], body: order, shardingKey: order.id });
 * });                                                        // committed → sent; rolled back → never
 * outbox.relay.start();                                      // in one or more processes
 * template.setAsyncSendRetry({ fallback: outbox });          // async sends that give up land here
 * await outbox.listFailed(); await outbox.resubmit(ids);
 * await outbox.close();
 * ```
 * Details: README.md beside this file.
 */
import type { Knex } from 'knex';
import { PRODUCER_DEFAULTS } from '../client/client-options';
import { MQClientError } from '../client/errors';
import { keysToString, type Message } from '../client/message';
import { CONTENT_TYPE_PROPERTY, DefaultMessageConverter, type MessageConverter } from '../converter/message-converter';
import type { AsyncSendFallback, HandOffContext } from '../retry/async-send-retry';
import { resolveBackoff } from '../retry/backoff';
import { newUniqKey, uniqKeyOf } from '../retry/message-identity';
import { TypedEvents } from '../retry/typed-events';
import {
  OUTBOX_DEFAULTS,
  type OutboxEventMap,
  type OutboxMessage,
  type OutboxOptions,
  type OutboxRow,
  type OutboxSendFunction,
  type OutboxStats,
  type OutboxStatus,
} from './outbox-options';
import { defaultRelayId, OutboxRelay, wakeRelays } from './outbox-relay';
import { ensureOutboxTables, type OutboxDialect } from './outbox-table';
import { OutboxStore, type NewOutboxRow } from './outbox.store';

export interface OutboxListOptions {
  /** @defaultValue 100 (max 10000) */
  limit?: number;
  /** Keyset paging: rows with a larger id. */
  afterId?: string | number;
  topic?: string;
}

/** The outbox. Implements `AsyncSendFallback`, so it can be a template's async-retry fallback. */
export interface Outbox extends AsyncSendFallback {
  readonly tableName: string;
  readonly dialect: OutboxDialect;
  readonly events: TypedEvents<OutboxEventMap>;
  readonly relay: OutboxRelay;
  /** Creates the tables if missing (idempotent, safe from several processes). */
  migrate(): Promise<void>;
  /**
   * Adds rows inside the caller's transaction (`trx`), so they exist exactly when the business
   * writes commit. Passing the knex instance itself autocommits. Resolves with the msgIds (UNIQ_KEYs).
   */
  enqueue(trx: Knex.Transaction | Knex, messages: OutboxMessage | readonly OutboxMessage[]): Promise<string[]>;
  /** `enqueue` in a transaction of its own. */
  enqueueNow(messages: OutboxMessage | readonly OutboxMessage[]): Promise<string[]>;
  /** AsyncSendFallback: stores a message an async send gave up on (own transaction; keeps its msgId). Resolves with the msgId. */
  handOff(msg: Message, context: HandOffContext): Promise<string>;
  /** FAILED rows, oldest first. */
  listFailed(options?: OutboxListOptions): Promise<OutboxRow[]>;
  /** Rows in any status, oldest first. */
  list(status: OutboxStatus, options?: OutboxListOptions): Promise<OutboxRow[]>;
  get(id: string | number): Promise<OutboxRow | undefined>;
  findByMsgId(msgId: string): Promise<OutboxRow | undefined>;
  /** FAILED → PENDING with attempts reset (undefined = every FAILED row). Resolves with the rows changed. */
  resubmit(ids?: ReadonlyArray<string | number>): Promise<number>;
  /** Row counts per status. */
  counts(): Promise<Record<OutboxStatus, number>>;
  /** Deletes SENT rows older than `retentionMs` (default the option). Resolves with the number deleted. */
  cleanup(retentionMs?: number): Promise<number>;
  /** This process's counters. */
  stats(): OutboxStats;
  /** Stops the relay (if started). Does not close knex or the producer (they are the caller's). */
  close(): Promise<void>;
}

function positive(name: string, v: number, min = 1): number {
  if (!Number.isFinite(v) || v < min) throw new RangeError(`outbox ${name} must be >= ${min}, got ${String(v)}`);
  return v;
}

function senderOf(options: OutboxOptions): OutboxSendFunction | undefined {
  if (options.send) return options.send;
  const producer = options.producer ?? options.template?.producer;
  if (!producer) return undefined;
  // Orderly: the sharding key is the hash key (same key → same queue). Single attempt per claim; the
  // row's own backoff is the retry.
  return (msg, shardingKey) => (shardingKey !== undefined ? producer.sendOrderly(msg, shardingKey) : producer.send(msg));
}

class OutboxImpl implements Outbox {
  readonly tableName: string;
  readonly dialect: OutboxDialect;
  readonly events: TypedEvents<OutboxEventMap>;
  readonly relay: OutboxRelay;
  private readonly store: OutboxStore;
  private readonly converter: MessageConverter;
  private readonly now: () => number;
  private readonly retentionMs: number;
  private readonly counters: OutboxStats = {
    enqueued: 0,
    claimed: 0,
    reclaimed: 0,
    sent: 0,
    resent: 0,
    sendFailures: 0,
    failed: 0,
    resubmitted: 0,
    cleaned: 0,
    leaseLost: 0,
    relayPasses: 0,
    relayErrors: 0,
  };

  constructor(private readonly options: OutboxOptions) {
    if (!options?.knex) throw new TypeError('createOutbox: knex is required');
    this.store = new OutboxStore(options.knex, options.tableName ?? OUTBOX_DEFAULTS.tableName);
    this.tableName = this.store.tableName;
    this.dialect = this.store.dialect;
    this.converter = options.converter ?? options.template?.converter ?? new DefaultMessageConverter();
    this.now = options.now ?? Date.now;
    this.retentionMs = positive('retentionMs', options.retentionMs ?? OUTBOX_DEFAULTS.retentionMs, 0);
    const logger = options.logger;
    this.events = new TypedEvents((err, name) => logger?.warn({ err, event: name }, 'outbox event listener threw'));
    const leaseMs = positive('leaseMs', options.leaseMs ?? OUTBOX_DEFAULTS.leaseMs);
    const singleActiveRelay = this.dialect === 'sqlite' ? true : (options.singleActiveRelay ?? false);
    if (this.dialect === 'sqlite' && options.singleActiveRelay === false) {
      throw new TypeError('outbox: SQLite has no SKIP LOCKED, so only one relay may be active (singleActiveRelay cannot be false)');
    }
    this.relay = new OutboxRelay(
      {
        maxAttempts: positive('maxAttempts', options.maxAttempts ?? OUTBOX_DEFAULTS.maxAttempts),
        backoff: resolveBackoff(options.backoff, OUTBOX_DEFAULTS.backoff),
        batchSize: positive('batchSize', options.batchSize ?? OUTBOX_DEFAULTS.batchSize),
        pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs ?? OUTBOX_DEFAULTS.pollIntervalMs),
        sendConcurrency: positive('sendConcurrency', options.sendConcurrency ?? OUTBOX_DEFAULTS.sendConcurrency),
        leaseMs,
        retentionMs: this.retentionMs,
        cleanupIntervalMs: positive('cleanupIntervalMs', options.cleanupIntervalMs ?? OUTBOX_DEFAULTS.cleanupIntervalMs, 0),
        singleActiveRelay,
        relayId: options.relayId ?? defaultRelayId(),
      },
      { store: this.store, send: senderOf(options), events: this.events, stats: this.counters, now: this.now, random: options.random ?? Math.random, logger },
    );
  }

  migrate(): Promise<void> {
    return ensureOutboxTables(this.options.knex, this.tableName);
  }

  /** OutboxMessage → row values (validated before anything is written). */
  private toRow(m: OutboxMessage): NewOutboxRow {
    if (!m || typeof m.topic !== 'string' || m.topic.length === 0) throw new MQClientError('ILLEGAL_ARGUMENT', 'outbox message: topic is required');
    const { body, contentType } = this.converter.toMessageBody(m.body);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    if (bytes.length > PRODUCER_DEFAULTS.maxMessageSize) {
      throw new MQClientError('MESSAGE_TOO_LARGE', `outbox message body is ${bytes.length} bytes, over ${PRODUCER_DEFAULTS.maxMessageSize}`);
    }
    if (m.delayLevel !== undefined && (!Number.isInteger(m.delayLevel) || m.delayLevel < 0)) {
      throw new MQClientError('ILLEGAL_ARGUMENT', `outbox message: delayLevel must be an integer >= 0, got ${String(m.delayLevel)}`);
    }
    const properties: Record<string, string> = { ...m.properties };
    if (contentType !== undefined && properties[CONTENT_TYPE_PROPERTY] === undefined) properties[CONTENT_TYPE_PROPERTY] = contentType;
    const msgId = uniqKeyOf({ topic: m.topic, body: '', properties }) ?? newUniqKey();
    properties.UNIQ_KEY = msgId;
    return {
      msgId,
      topic: m.topic,
      tags: m.tags !== undefined && m.tags !== '' ? m.tags : null,
      keys: keysToString(m.keys) ?? null,
      body: bytes,
      properties,
      delayLevel: m.delayLevel !== undefined && m.delayLevel > 0 ? m.delayLevel : null,
      shardingKey: m.shardingKey !== undefined && m.shardingKey !== '' ? m.shardingKey : null,
    };
  }

  async enqueue(trx: Knex.Transaction | Knex, messages: OutboxMessage | readonly OutboxMessage[]): Promise<string[]> {
    const list: readonly OutboxMessage[] = Array.isArray(messages) ? messages : [messages as OutboxMessage];
    if (list.length === 0) return [];
    const rows = list.map((m) => this.toRow(m));
    const isTrx = typeof (trx as Knex.Transaction).isTransaction === 'boolean' && (trx as Knex.Transaction).isTransaction;
    if (!isTrx && rows.length > OUTBOX_DEFAULTS.insertChunkSize) {
      // Several statements: keep them atomic.
      await trx.transaction((own) => this.store.insert(own, rows, this.now()));
    } else {
      await this.store.insert(trx, rows, this.now());
    }
    const msgIds = rows.map((r) => r.msgId);
    this.counters.enqueued += rows.length;
    if (this.events.has('enqueued')) this.events.emit('enqueued', { count: rows.length, msgIds });
    if (isTrx) {
      // Wake the relay when (and only if) the business transaction commits.
      (trx as Knex.Transaction).executionPromise.then(
        () => wakeRelays(this.tableName),
        () => undefined,
      );
    } else {
      wakeRelays(this.tableName);
    }
    return msgIds;
  }

  enqueueNow(messages: OutboxMessage | readonly OutboxMessage[]): Promise<string[]> {
    return this.options.knex.transaction((trx) => this.enqueue(trx, messages));
  }

  async handOff(msg: Message, context: HandOffContext): Promise<string> {
    const properties: Record<string, string> = { ...msg.properties };
    const m: OutboxMessage = { topic: msg.topic, body: typeof msg.body === 'string' ? Buffer.from(msg.body, 'utf8') : msg.body, properties };
    if (msg.tags !== undefined) m.tags = msg.tags;
    if (msg.keys !== undefined) m.keys = msg.keys;
    if (msg.delayLevel !== undefined) m.delayLevel = msg.delayLevel;
    if (context.shardingKey !== undefined) m.shardingKey = context.shardingKey;
    // The body is already bytes: keep the content type the template set rather than the converter's.
    const [msgId] = await this.enqueueNow(m);
    return msgId!;
  }

  listFailed(options: OutboxListOptions = {}): Promise<OutboxRow[]> {
    return this.store.list('FAILED', options);
  }

  list(status: OutboxStatus, options: OutboxListOptions = {}): Promise<OutboxRow[]> {
    return this.store.list(status, options);
  }

  get(id: string | number): Promise<OutboxRow | undefined> {
    return this.store.get(id);
  }

  findByMsgId(msgId: string): Promise<OutboxRow | undefined> {
    return this.store.findByMsgId(msgId);
  }

  async resubmit(ids?: ReadonlyArray<string | number>): Promise<number> {
    const n = await this.store.resubmit(ids, this.now());
    this.counters.resubmitted += n;
    if (n > 0) {
      if (this.events.has('resubmitted')) this.events.emit('resubmitted', { count: n });
      wakeRelays(this.tableName);
    }
    return n;
  }

  counts(): Promise<Record<OutboxStatus, number>> {
    return this.store.counts();
  }

  cleanup(retentionMs?: number): Promise<number> {
    return this.relay.cleanup(retentionMs ?? this.retentionMs);
  }

  stats(): OutboxStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    return this.relay.stop();
  }
}

/** Creates an outbox over `options.knex`; see the file comment and README.md. */
export function createOutbox(options: OutboxOptions): Outbox {
  return new OutboxImpl(options);
}
