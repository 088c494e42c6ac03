/**
 * Options of `@TransactionalProducer` and of `createTransactionalProducers`. Defaults live in
 * constants.ts (`TRANSACTIONAL_DEFAULTS`).
 */
import type { Knex } from 'knex';
import type { LocalTransactionState, TransactionCheckMessage, TransactionProducerOptions } from '../client/producer/transaction-producer';
import type { TransactionLogStore } from './transaction-log.store';

/**
 * What the message is made of. `payload`: a Buffer or string is sent as is, anything else as JSON.
 * `keys` / `tags` / `properties` override the decorator's.
 */
export interface TransactionalMessageSpec {
  payload: unknown;
  keys?: string | readonly string[];
  tags?: string;
  properties?: Record<string, string>;
}

/** A custom check-back answer for a group (instead of the table lookup). */
export type TransactionChecker = (
  msg: TransactionCheckMessage,
  ctx: { knex: Knex; store: TransactionLogStore },
) => LocalTransactionState | Promise<LocalTransactionState>;

export interface TransactionalProducerOptions {
  /** Topic of the message. */
  topic: string;
  /** Producer group; check-backs for it are answered by this app. One TransactionProducer per group. */
  group: string;
  /** Default tag. */
  tags?: string;
  /** Default keys. */
  keys?: string | readonly string[];
  /**
   * Builds the message from the method's ARGUMENTS. Then the half message is sent FIRST (RocketMQ's
   * order: nothing local happens if the broker cannot take it), then the method runs in the DB
   * transaction.
   */
  message?: (...args: never[]) => TransactionalMessageSpec;
  /**
   * Builds the message from the method's RESULT (and arguments). Then the method runs first in the DB
   * transaction, the half message is sent after it, still before the DB commit. When neither
   * `message` nor `messageFromResult` is given, the method's return value IS the
   * `TransactionalMessageSpec` (returned unchanged to the caller).
   */
  messageFromResult?: (result: never, ...args: never[]) => TransactionalMessageSpec;
  /** Custom check-back answer for this group instead of the table (at most one per group). */
  checker?: TransactionChecker;
}

/** One decorated method, as recorded by the decorator. */
export interface TransactionalMethodMetadata {
  propertyKey: string | symbol;
  className: string;
  options: TransactionalProducerOptions;
  /** The undecorated method. */
  method: (...args: unknown[]) => unknown;
}

/** Points of one transactional call, in order (return-value mode runs 'method-done' before 'half-sent'). */
export type TransactionalPhase = 'half-sent' | 'method-done' | 'before-db-commit' | 'after-db-commit' | 'end-sent';

export interface TransactionalPhaseInfo {
  transactionId: string;
  group: string;
  topic: string;
  method: string;
}

export interface CreateTransactionalProducersOptions {
  knex: Knex;
  namesrvAddr: string | readonly string[];
  /** Instances whose `@TransactionalProducer` methods are bound to this runtime. */
  targets: readonly object[];
  /** Local transaction table. Default `rocketry_tx_log`. */
  tableName?: string;
  /** Create the table when missing. Default true (set false when your migrations create it). */
  ensureTable?: boolean;
  /** See `TRANSACTIONAL_DEFAULTS.localTransactionTimeoutMs` (60 s). */
  localTransactionTimeoutMs?: number;
  /** Retention of table rows. Default 7 days. */
  retentionMs?: number;
  /** Period of the retention cleanup; 0 = off. Default 1 h. */
  cleanupIntervalMs?: number;
  /** Custom check-back answers by group (win over a decorator's `checker`). */
  checkers?: Record<string, TransactionChecker>;
  /** Further TransactionProducer options for every group (instanceName, timeouts, logger, ...). */
  producerOptions?: Omit<Partial<TransactionProducerOptions>, 'group' | 'listener' | 'namesrvAddr'>;
  /**
   * Called at each phase of each call (tracing, fault-injection tests). A hook that throws before the
   * DB commit aborts the call like an exception from the method; after the commit its error is logged.
   */
  onPhase?: (phase: TransactionalPhase, info: TransactionalPhaseInfo) => void | Promise<void>;
}
