/**
 * The runtime behind `@TransactionalProducer` (design and guarantees: README.md).
 *
 * `createTransactionalProducers({ knex, namesrvAddr, targets })` makes one TransactionProducer per
 * group named by the targets' decorated methods, binds the targets to this runtime, creates the
 * local transaction table if asked, and answers the broker's check-backs from that table.
 *
 * One call of a decorated method (message built from the ARGUMENTS, `message` option):
 *   half message sent → DB transaction opened → method(...args) with the trx in context →
 *   COMMIT row written in the same trx → DB commit → END_TRANSACTION COMMIT.
 * (message from the RESULT, the default): DB transaction opened → method → half message sent →
 *   COMMIT row → DB commit → END COMMIT.
 * The method (or a hook) throwing before the DB commit → DB rollback → END ROLLBACK (if a half was
 * sent) → the error is rethrown. A failed DB commit → END UNKNOWN (the check-back settles it from the
 * table) → the error is rethrown.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { MessageConst } from '@rocketry/broker/protocol';
import {
  TransactionProducer,
  type LocalTransactionState,
  type TransactionCheckMessage,
} from '../client/producer/transaction-producer';
import type { Message } from '../client/message';
import { TRANSACTIONAL_DEFAULTS, TX_OWNER_PROPERTY } from './constants';
import { getTransactionalProducerMetadata } from './transactional-metadata';
import { TransactionLogStore } from './transaction-log.store';
import type {
  CreateTransactionalProducersOptions,
  TransactionalMessageSpec,
  TransactionalMethodMetadata,
  TransactionalPhase,
  TransactionalPhaseInfo,
  TransactionChecker,
} from './transactional-producer-options';

export type TransactionalErrorCode = 'NOT_BOUND' | 'NESTED' | 'INVALID_MESSAGE' | 'HALF_NOT_STORED' | 'LOCAL_TIMEOUT' | 'CONFIG';

/** Errors of the transactional machinery (the method's own errors are rethrown unchanged). */
export class TransactionalError extends Error {
  constructor(
    readonly code: TransactionalErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransactionalError';
  }
}

/** What a decorated method can read while it runs. */
export interface TransactionalContext {
  /** The knex transaction the method must use for its writes. */
  trx: Knex.Transaction;
  /** UNIQ_KEY of the half message (also the table's tx_id). */
  transactionId: string;
  group: string;
  topic: string;
}

const contextStorage = new AsyncLocalStorage<TransactionalContext>();

/** The current call's context, or undefined outside a `@TransactionalProducer` method. */
export function getTransactionalContext(): TransactionalContext | undefined {
  return contextStorage.getStore();
}

/** The current call's knex transaction; throws outside a `@TransactionalProducer` method. */
export function currentTrx(): Knex.Transaction {
  const ctx = contextStorage.getStore();
  if (!ctx) throw new TransactionalError('NOT_BOUND', 'currentTrx() called outside a @TransactionalProducer method');
  return ctx.trx;
}

/** Random per process: marks the half messages this process sent (TX_OWNER_PROPERTY). */
const PROCESS_TOKEN = randomUUID();
/** Transaction ids whose local transaction is running in this process. */
const inFlight = new Set<string>();
/** Instance → the runtime it is bound to. */
const bindings = new WeakMap<object, TransactionalRuntime>();

/** Called by the decorator's wrapper. */
export function invokeTransactional(self: object, entry: TransactionalMethodMetadata, args: unknown[]): Promise<unknown> {
  const runtime = bindings.get(self);
  if (!runtime) {
    return Promise.reject(
      new TransactionalError('NOT_BOUND', `${entry.className}.${String(entry.propertyKey)} is not bound; pass the instance to createTransactionalProducers({ targets })`),
    );
  }
  if (contextStorage.getStore()) {
    return Promise.reject(new TransactionalError('NESTED', `${entry.className}.${String(entry.propertyKey)} called inside another @TransactionalProducer method`));
  }
  return runtime.invoke(self, entry, args);
}

function toBody(payload: unknown): Buffer | string {
  if (Buffer.isBuffer(payload) || typeof payload === 'string') return payload;
  if (payload === undefined) throw new TransactionalError('INVALID_MESSAGE', 'the message payload is undefined');
  return JSON.stringify(payload);
}

function isSpec(value: unknown): value is TransactionalMessageSpec {
  return typeof value === 'object' && value !== null && 'payload' in value;
}

async function rollbackQuietly(trx: Knex.Transaction): Promise<void> {
  if (trx.isCompleted()) return;
  await trx.rollback().catch(() => undefined);
}

/** Outcome of the local part of one call, filled in by the runner. */
interface LocalOutcome {
  ran: boolean;
  error?: unknown;
  result?: unknown;
}

type LocalRunner = () => Promise<LocalTransactionState>;

export class TransactionalRuntime {
  readonly store: TransactionLogStore;
  readonly producers = new Map<string, TransactionProducer>();
  private readonly checkers = new Map<string, TransactionChecker>();
  private readonly timeoutMs: number;
  private readonly targets: object[] = [];

  constructor(private readonly options: CreateTransactionalProducersOptions) {
    this.store = new TransactionLogStore(options.knex, options.tableName ?? TRANSACTIONAL_DEFAULTS.tableName);
    this.timeoutMs = options.localTransactionTimeoutMs ?? TRANSACTIONAL_DEFAULTS.localTransactionTimeoutMs;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) throw new RangeError(`localTransactionTimeoutMs must be > 0, got ${this.timeoutMs}`);
  }

  /** Reads the targets' metadata, creates one producer per group and binds the targets (not started yet). */
  prepare(): void {
    for (const target of this.options.targets) {
      if (bindings.has(target)) throw new TransactionalError('CONFIG', `${target.constructor.name} is already bound to a transactional runtime`);
      const entries = getTransactionalProducerMetadata(target);
      if (entries.length === 0) throw new TransactionalError('CONFIG', `${target.constructor.name} has no @TransactionalProducer method`);
      for (const entry of entries) this.addEntry(entry);
      this.targets.push(target);
    }
    for (const [group, checker] of Object.entries(this.options.checkers ?? {})) this.checkers.set(group, checker);
    for (const target of this.targets) bindings.set(target, this);
  }

  private addEntry(entry: TransactionalMethodMetadata): void {
    const { topic, group, checker } = entry.options;
    const where = `${entry.className}.${String(entry.propertyKey)}`;
    if (typeof topic !== 'string' || topic.length === 0) throw new TransactionalError('CONFIG', `${where}: topic is required`);
    if (typeof group !== 'string' || group.length === 0) throw new TransactionalError('CONFIG', `${where}: group is required`);
    if (entry.options.message && entry.options.messageFromResult) throw new TransactionalError('CONFIG', `${where}: give message or messageFromResult, not both`);
    if (checker) {
      const existing = this.checkers.get(group);
      if (existing && existing !== checker) throw new TransactionalError('CONFIG', `${where}: group ${group} already has another checker`);
      this.checkers.set(group, checker);
    }
    if (this.producers.has(group)) return;
    const producer = new TransactionProducer({
      ...this.options.producerOptions,
      namesrvAddr: this.options.namesrvAddr,
      group,
      listener: {
        executeLocalTransaction: (_msg, arg) => (typeof arg === 'function' ? (arg as LocalRunner)() : 'UNKNOWN'),
        checkLocalTransaction: (msg) => this.check(group, msg),
      },
    });
    this.producers.set(group, producer);
  }

  async start(): Promise<void> {
    if (this.options.ensureTable ?? true) await this.store.ensureTable();
    const started: TransactionProducer[] = [];
    try {
      for (const p of this.producers.values()) {
        await p.start();
        started.push(p);
      }
    } catch (err) {
      await Promise.all(started.map((p) => p.shutdown().catch(() => undefined)));
      this.unbind();
      throw err;
    }
  }

  unbind(): void {
    for (const t of this.targets) if (bindings.get(t) === this) bindings.delete(t);
  }

  async shutdown(): Promise<void> {
    this.unbind();
    await Promise.all([...this.producers.values()].map((p) => p.shutdown()));
  }

  // -------------------------------------------------------------------------------------------
  // Check-backs

  /**
   * Table answer: a row → its state. No row → UNKNOWN while the local transaction may still commit
   * (younger than localTransactionTimeoutMs and not known to be over); else fence the id with a
   * ROLLBACK row (the primary key then stops any late COMMIT row) → ROLLBACK, or COMMIT if the
   * owner's row won the race.
   */
  async check(group: string, msg: TransactionCheckMessage): Promise<LocalTransactionState> {
    const custom = this.checkers.get(group);
    if (custom) return custom(msg, { knex: this.options.knex, store: this.store });
    const txId = msg.transactionId;
    const row = await this.store.find(txId);
    if (row) return row.state;
    const ageMs = Date.now() - msg.bornTimestamp;
    const overHere = msg.properties[TX_OWNER_PROPERTY] === PROCESS_TOKEN && !inFlight.has(txId);
    if (ageMs < this.timeoutMs && !overHere) return 'UNKNOWN';
    const out = await this.store.fenceRollback({ txId, group, topic: msg.topic, keys: msg.keys.length > 0 ? msg.keys.join(' ') : null });
    return out.state;
  }

  // -------------------------------------------------------------------------------------------
  // Calls

  async invoke(self: object, entry: TransactionalMethodMetadata, args: unknown[]): Promise<unknown> {
    const { options } = entry;
    const producer = this.producers.get(options.group);
    if (!producer) throw new TransactionalError('NOT_BOUND', `no producer for group ${options.group}`);
    const transactionId = producer.newTransactionId();
    const info: TransactionalPhaseInfo = { transactionId, group: options.group, topic: options.topic, method: `${entry.className}.${String(entry.propertyKey)}` };
    inFlight.add(transactionId);
    try {
      return options.message ? await this.invokeHalfFirst(self, entry, args, producer, info) : await this.invokeResultFirst(self, entry, args, producer, info);
    } finally {
      inFlight.delete(transactionId);
    }
  }

  private buildMessage(entry: TransactionalMethodMetadata, spec: unknown, transactionId: string): Message {
    if (!isSpec(spec)) {
      throw new TransactionalError(
        'INVALID_MESSAGE',
        `${entry.className}.${String(entry.propertyKey)}: expected a { payload, keys?, tags?, properties? } message spec, got ${typeof spec}`,
      );
    }
    const o = entry.options;
    const msg: Message = {
      topic: o.topic,
      body: toBody(spec.payload),
      properties: { ...(spec.properties ?? {}), [MessageConst.UNIQ_KEY]: transactionId, [TX_OWNER_PROPERTY]: PROCESS_TOKEN },
    };
    const tags = spec.tags ?? o.tags;
    if (tags !== undefined) msg.tags = tags;
    const keys = spec.keys ?? o.keys;
    if (keys !== undefined) msg.keys = keys;
    return msg;
  }

  private async phase(phase: TransactionalPhase, info: TransactionalPhaseInfo): Promise<void> {
    if (this.options.onPhase) await this.options.onPhase(phase, info);
  }

  /** Phases after the DB commit: the outcome is decided, a hook error is only logged. */
  private async phaseAfterCommit(phase: TransactionalPhase, info: TransactionalPhaseInfo): Promise<void> {
    try {
      await this.phase(phase, info);
    } catch (err) {
      this.producers.get(info.group)?.clientInstance.logger.warn({ err, phase, transactionId: info.transactionId }, 'onPhase hook threw after the DB commit');
    }
  }

  private checkDeadline(startedAtMs: number, info: TransactionalPhaseInfo): void {
    const elapsed = Date.now() - startedAtMs;
    if (elapsed >= this.timeoutMs) {
      throw new TransactionalError('LOCAL_TIMEOUT', `${info.method}: local transaction took ${elapsed} ms, over localTransactionTimeoutMs ${this.timeoutMs}; rolled back`);
    }
  }

  /**
   * The tail shared by both modes, inside the open DB transaction: deadline, COMMIT row, commit.
   * Returns the state for END_TRANSACTION and records an error for the caller.
   */
  private async finishLocal(trx: Knex.Transaction, info: TransactionalPhaseInfo, halfStartedAtMs: number, keys: string | null, outcome: LocalOutcome): Promise<LocalTransactionState> {
    try {
      this.checkDeadline(halfStartedAtMs, info);
      await this.store.insertCommit(trx, { txId: info.transactionId, group: info.group, topic: info.topic, keys });
      await this.phase('before-db-commit', info);
    } catch (err) {
      await rollbackQuietly(trx);
      outcome.error = err;
      return 'ROLLBACK';
    }
    try {
      await trx.commit();
    } catch (err) {
      // The commit may or may not have happened: the check-back reads the table.
      outcome.error = err;
      return 'UNKNOWN';
    }
    await this.phaseAfterCommit('after-db-commit', info);
    return 'COMMIT';
  }

  private async invokeHalfFirst(self: object, entry: TransactionalMethodMetadata, args: unknown[], producer: TransactionProducer, info: TransactionalPhaseInfo): Promise<unknown> {
    const spec = (entry.options.message as (...a: unknown[]) => unknown)(...args);
    const msg = this.buildMessage(entry, spec, info.transactionId);
    const outcome: LocalOutcome = { ran: false };
    const startedAtMs = Date.now();
    const runner: LocalRunner = async () => {
      outcome.ran = true;
      let trx: Knex.Transaction | undefined;
      try {
        await this.phase('half-sent', info);
        trx = await this.options.knex.transaction();
        const ctx: TransactionalContext = { trx, transactionId: info.transactionId, group: info.group, topic: info.topic };
        outcome.result = await contextStorage.run(ctx, () => entry.method.apply(self, args));
        await this.phase('method-done', info);
      } catch (err) {
        if (trx) await rollbackQuietly(trx);
        outcome.error = err;
        return 'ROLLBACK';
      }
      return this.finishLocal(trx, info, startedAtMs, keysText(msg), outcome);
    };
    const sent = await producer.sendMessageInTransaction(msg, runner);
    if (!outcome.ran) throw new TransactionalError('HALF_NOT_STORED', `${info.method}: half message not stored (${sent.status}); nothing was done`);
    if (sent.localTransactionState === 'COMMIT') await this.phaseAfterCommit('end-sent', info);
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.result;
  }

  private async invokeResultFirst(self: object, entry: TransactionalMethodMetadata, args: unknown[], producer: TransactionProducer, info: TransactionalPhaseInfo): Promise<unknown> {
    const trx = await this.options.knex.transaction();
    let result: unknown;
    let msg: Message;
    try {
      const ctx: TransactionalContext = { trx, transactionId: info.transactionId, group: info.group, topic: info.topic };
      result = await contextStorage.run(ctx, () => entry.method.apply(self, args));
      await this.phase('method-done', info);
      const fromResult = entry.options.messageFromResult as ((r: unknown, ...a: unknown[]) => unknown) | undefined;
      msg = this.buildMessage(entry, fromResult ? fromResult(result, ...args) : result, info.transactionId);
    } catch (err) {
      await rollbackQuietly(trx);
      throw err;
    }
    const outcome: LocalOutcome = { ran: false };
    const startedAtMs = Date.now();
    const runner: LocalRunner = async () => {
      outcome.ran = true;
      try {
        await this.phase('half-sent', info);
      } catch (err) {
        await rollbackQuietly(trx);
        outcome.error = err;
        return 'ROLLBACK';
      }
      return this.finishLocal(trx, info, startedAtMs, keysText(msg), outcome);
    };
    let sent;
    try {
      sent = await producer.sendMessageInTransaction(msg, runner);
    } catch (err) {
      await rollbackQuietly(trx);
      throw err;
    }
    if (!outcome.ran) {
      await rollbackQuietly(trx);
      throw new TransactionalError('HALF_NOT_STORED', `${info.method}: half message not stored (${sent.status}); the DB transaction was rolled back`);
    }
    if (sent.localTransactionState === 'COMMIT') await this.phaseAfterCommit('end-sent', info);
    if (outcome.error !== undefined) throw outcome.error;
    return result;
  }
}

function keysText(msg: Message): string | null {
  if (msg.keys === undefined) return null;
  const text = typeof msg.keys === 'string' ? msg.keys : msg.keys.join(' ');
  return text.length > 0 ? text : null;
}

/** Handle returned by `createTransactionalProducers`. */
export interface TransactionalProducers {
  readonly store: TransactionLogStore;
  /** One TransactionProducer per group. */
  readonly producers: ReadonlyMap<string, TransactionProducer>;
  /** Runs the retention cleanup now; resolves with the rows deleted. */
  cleanup(): Promise<number>;
  /** Stops the cleanup, unbinds the targets and shuts the producers down. */
  shutdown(): Promise<void>;
}

/**
 * Binds `targets`' `@TransactionalProducer` methods, creates the table (unless `ensureTable: false`),
 * starts one TransactionProducer per group (check-backs are answered from then on) and schedules the
 * retention cleanup. Usable from plain Node and from the NestJS / inversify starters.
 */
export async function createTransactionalProducers(options: CreateTransactionalProducersOptions): Promise<TransactionalProducers> {
  const runtime = new TransactionalRuntime(options);
  runtime.prepare();
  await runtime.start();
  const retentionMs = options.retentionMs ?? TRANSACTIONAL_DEFAULTS.retentionMs;
  const cleanup = () => runtime.store.cleanup({ retentionMs });
  const intervalMs = options.cleanupIntervalMs ?? TRANSACTIONAL_DEFAULTS.cleanupIntervalMs;
  let timer: NodeJS.Timeout | undefined;
  if (intervalMs > 0) {
    let running = false;
    timer = setInterval(() => {
      if (running) return;
      running = true;
      cleanup()
        .catch((err: unknown) => runtime.producers.values().next().value?.clientInstance.logger.warn({ err }, 'transaction table cleanup failed'))
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    timer.unref();
  }
  return {
    store: runtime.store,
    producers: runtime.producers,
    cleanup,
    async shutdown() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await runtime.shutdown();
    },
  };
}
