/**
 * TransactionProducer: Apache RocketMQ `TransactionMQProducer` semantics (remoting-protocol.md §6, §2.7).
 *
 * sendMessageInTransaction(msg, arg):
 *   1. sends a half message: properties TRAN_MSG=true, PGROUP=<group>, sysFlag PREPARED (0x4); the
 *      UNIQ_KEY (= transaction id) is made here so it is known before the send;
 *   2. SEND_OK → runs `listener.executeLocalTransaction(msg, arg)`; an exception (or an answer that is
 *      not a state) means UNKNOWN, left to the broker's check. Any other send status → ROLLBACK,
 *      without running the local transaction (as Java);
 *   3. END_TRANSACTION oneway to the broker that stored the half: commitOrRollback 8 / 12 / 0,
 *      tranStateTableOffset = the reply's queueOffset, commitLogOffset from the reply's offset msgId,
 *      msgId = UNIQ_KEY. A failed END is logged only: the broker's check will ask again.
 *
 * CHECK_TRANSACTION_STATE (routed here by the client instance from the half message's PGROUP, so it
 * also covers halves sent by another, dead, member of the group) → `listener.checkLocalTransaction`
 * → END_TRANSACTION with fromTransactionCheck=true, echoing the check header's offsets. Checks run at
 * most `checkConcurrency` at a time; at most `checkRequestHoldMax` wait, further ones are dropped
 * (the broker checks again on its next pass).
 */
import {
  MessageConst,
  MessageSysFlag,
  parseOffsetMessageId,
  UniqueIdGenerator,
  type CheckTransactionStateRequestHeader,
  type EndTransactionRequestHeader,
} from '@rocketry/broker/protocol';
import { MQClientError } from '../errors';
import type { Message, MessageExt } from '../message';
import { Producer, type ProducerOptions, type SendResult } from './producer';

/** Outcome of a local transaction (Java `LocalTransactionState`: COMMIT_MESSAGE, ROLLBACK_MESSAGE, UNKNOW). */
export type LocalTransactionState = 'COMMIT' | 'ROLLBACK' | 'UNKNOWN';

/** The message handed to `executeLocalTransaction`: what was sent, with its transaction id (= UNIQ_KEY). */
export interface TransactionMessage extends Message {
  transactionId: string;
  properties: Record<string, string>;
}

/** The half message handed to `checkLocalTransaction` (its real topic/queue), with its transaction id. */
export interface TransactionCheckMessage extends MessageExt {
  transactionId: string;
}

export interface TransactionListener {
  /** Runs the local transaction after the half message is stored. Throwing = UNKNOWN. */
  executeLocalTransaction(msg: TransactionMessage, arg: unknown): LocalTransactionState | Promise<LocalTransactionState>;
  /** Answers a broker check-back for a half message whose outcome the broker does not know. Throwing = UNKNOWN. */
  checkLocalTransaction(msg: TransactionCheckMessage): LocalTransactionState | Promise<LocalTransactionState>;
}

export interface TransactionProducerOptions extends ProducerOptions {
  listener: TransactionListener;
  /** Check-backs handled at the same time (Java `checkThreadPoolMaxSize`, 1 there). Default 4. */
  checkConcurrency?: number;
  /** Check-backs waiting for a slot; more are dropped (Java `checkRequestHoldMax`). Default 2000. */
  checkRequestHoldMax?: number;
  /** Called after every answered check-back (tracing, tests); exceptions are logged. */
  onCheck?: (event: TransactionCheckEvent) => void;
}

/** Defaults of the transaction-only options (the Producer's own live in client-options.ts). */
export const TRANSACTION_PRODUCER_DEFAULTS = {
  checkConcurrency: 4,
  checkRequestHoldMax: 2_000,
} as const;

export interface TransactionSendResult extends SendResult {
  localTransactionState: LocalTransactionState;
  /** UNIQ_KEY of the half message (also `msgId`). */
  transactionId: string;
}

/** Events a TransactionProducer reports (tracing, tests). */
export interface TransactionCheckEvent {
  group: string;
  transactionId: string;
  topic: string;
  state: LocalTransactionState;
  brokerAddr: string;
  error?: Error;
}

const TX_TYPE: Record<LocalTransactionState, number> = {
  COMMIT: MessageSysFlag.TRANSACTION_COMMIT_TYPE,
  ROLLBACK: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE,
  UNKNOWN: MessageSysFlag.TRANSACTION_NOT_TYPE,
};

/** Anything that is not one of the three states counts as UNKNOWN (Java treats null the same way). */
export function toLocalTransactionState(value: unknown): LocalTransactionState {
  return value === 'COMMIT' || value === 'ROLLBACK' ? value : 'UNKNOWN';
}

interface PendingCheck {
  brokerAddr: string;
  msg: TransactionCheckMessage;
  header: CheckTransactionStateRequestHeader;
}

export class TransactionProducer extends Producer {
  readonly listener: TransactionListener;
  readonly checkConcurrency: number;
  readonly checkRequestHoldMax: number;
  private readonly onCheck: ((event: TransactionCheckEvent) => void) | undefined;
  private uniqGenerator: UniqueIdGenerator | undefined;
  private readonly checkQueue: PendingCheck[] = [];
  private checksRunning = 0;
  private checksDropped = 0;

  constructor(options: TransactionProducerOptions) {
    super(options);
    const listener = options.listener;
    if (!listener || typeof listener.executeLocalTransaction !== 'function' || typeof listener.checkLocalTransaction !== 'function') {
      throw new TypeError('TransactionProducer: listener with executeLocalTransaction and checkLocalTransaction is required');
    }
    this.listener = listener;
    this.checkConcurrency = intAtLeast('checkConcurrency', options.checkConcurrency, TRANSACTION_PRODUCER_DEFAULTS.checkConcurrency, 1);
    this.checkRequestHoldMax = intAtLeast('checkRequestHoldMax', options.checkRequestHoldMax, TRANSACTION_PRODUCER_DEFAULTS.checkRequestHoldMax, 0);
    this.onCheck = options.onCheck;
  }

  override async start(): Promise<void> {
    await super.start();
    // Own generator (random salt → own prefix), so the transaction id is known before the send.
    this.uniqGenerator ??= new UniqueIdGenerator({ ip: safeIp(this.clientInstance.config.clientIP) });
  }

  override async shutdown(): Promise<void> {
    this.checkQueue.length = 0;
    await super.shutdown();
  }

  /** Check-backs dropped because `checkRequestHoldMax` were already waiting. */
  get droppedChecks(): number {
    return this.checksDropped;
  }

  /** A new transaction id (UNIQ_KEY) from this producer's generator; pass it as the message's UNIQ_KEY property to use it. */
  newTransactionId(): string {
    if (!this.uniqGenerator || !this.running) throw new MQClientError('NOT_RUNNING', `producer ${this.group} is not started`);
    return this.uniqGenerator.next();
  }

  /**
   * Sends `msg` as a half message, runs the local transaction, then commits or rolls back the
   * message (or leaves it to the check when UNKNOWN). Rejects only when the half message could not
   * be sent; then the local transaction never ran.
   */
  async sendMessageInTransaction(msg: Message, arg?: unknown): Promise<TransactionSendResult> {
    if (!this.running) throw new MQClientError('NOT_RUNNING', `producer ${this.group} is not started`);
    const properties: Record<string, string> = { ...(msg.properties ?? {}) };
    delete properties[MessageConst.DELAY]; // Java clears the delay level of transactional messages.
    properties[MessageConst.TRAN_MSG] = 'true';
    properties[MessageConst.PGROUP] = this.group;
    const transactionId = properties[MessageConst.UNIQ_KEY] || this.newTransactionId();
    properties[MessageConst.UNIQ_KEY] = transactionId;
    const half: TransactionMessage = { ...msg, properties, transactionId };
    delete half.delayLevel;

    const sent = await this.send(half);
    let state: LocalTransactionState = 'ROLLBACK';
    let localError: Error | undefined;
    if (sent.status === 'SEND_OK') {
      try {
        state = toLocalTransactionState(await this.listener.executeLocalTransaction(half, arg));
      } catch (err) {
        localError = err instanceof Error ? err : new Error(String(err));
        state = 'UNKNOWN';
        this.clientInstance.logger.info({ err: localError, transactionId, group: this.group }, 'executeLocalTransaction threw; the broker will check back');
      }
    }
    await this.endTransaction(sent, transactionId, state, localError);
    return { ...sent, msgId: transactionId, transactionId, localTransactionState: state };
  }

  private async endTransaction(sent: SendResult, transactionId: string, state: LocalTransactionState, localError: Error | undefined): Promise<void> {
    const instance = this.clientInstance;
    const addr = instance.findBrokerAddressInPublish(sent.messageQueue.brokerName);
    let commitLogOffset: number;
    try {
      commitLogOffset = parseOffsetMessageId(sent.offsetMsgId).offset;
    } catch (err) {
      instance.logger.warn({ err, transactionId }, 'send reply has no usable offset msgId; END_TRANSACTION left to the check');
      return;
    }
    if (!addr) {
      instance.logger.warn({ broker: sent.messageQueue.brokerName, transactionId }, 'no broker address for END_TRANSACTION; left to the check');
      return;
    }
    const header: EndTransactionRequestHeader = {
      topic: sent.messageQueue.topic,
      producerGroup: this.group,
      tranStateTableOffset: sent.queueOffset,
      commitLogOffset,
      commitOrRollback: TX_TYPE[state],
      fromTransactionCheck: false,
      msgId: transactionId,
      transactionId: sent.transactionId ?? transactionId,
    };
    const remark = localError ? `executeLocalTransactionBranch exception: ${localError.message}` : undefined;
    await instance.api.endTransactionOneway(addr, header, remark).catch((err: unknown) => {
      instance.logger.warn({ err, transactionId, state }, 'END_TRANSACTION failed; the broker will check back');
    });
  }

  // -------------------------------------------------------------------------------------------
  // Check-backs

  /** ProducerHandle hook: queues the check (bounded) and starts a worker if a slot is free. */
  checkTransactionState(brokerAddr: string, msg: MessageExt, header: CheckTransactionStateRequestHeader): void {
    if (!this.running) return;
    if (this.checkQueue.length >= this.checkRequestHoldMax && this.checksRunning >= this.checkConcurrency) {
      this.checksDropped++;
      this.clientInstance.logger.warn({ group: this.group, msgId: msg.msgId }, 'too many check-backs waiting; dropped (the broker will ask again)');
      return;
    }
    const transactionId = msg.properties[MessageConst.UNIQ_KEY] ?? header.transactionId ?? msg.msgId;
    this.checkQueue.push({ brokerAddr, msg: { ...msg, transactionId }, header });
    this.drainChecks();
  }

  private drainChecks(): void {
    while (this.checksRunning < this.checkConcurrency && this.checkQueue.length > 0) {
      const next = this.checkQueue.shift()!;
      this.checksRunning++;
      void this.runCheck(next).finally(() => {
        this.checksRunning--;
        this.drainChecks();
      });
    }
  }

  private async runCheck({ brokerAddr, msg, header }: PendingCheck): Promise<void> {
    let state: LocalTransactionState;
    let error: Error | undefined;
    try {
      state = toLocalTransactionState(await this.listener.checkLocalTransaction(msg));
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
      state = 'UNKNOWN';
    }
    if (!this.running) return;
    const instance = this.clientInstance;
    const end: EndTransactionRequestHeader = {
      topic: msg.topic,
      producerGroup: this.group,
      tranStateTableOffset: header.tranStateTableOffset,
      commitLogOffset: header.commitLogOffset,
      commitOrRollback: TX_TYPE[state],
      fromTransactionCheck: true,
      msgId: msg.transactionId,
      transactionId: header.transactionId ?? msg.transactionId,
    };
    const remark = error ? `checkLocalTransaction exception: ${error.message}` : undefined;
    await instance.api.endTransactionOneway(brokerAddr, end, remark).catch((err: unknown) => {
      instance.logger.warn({ err, transactionId: msg.transactionId, state }, 'END_TRANSACTION after a check failed');
    });
    if (this.onCheck) {
      const event: TransactionCheckEvent = { group: this.group, transactionId: msg.transactionId, topic: msg.topic, state, brokerAddr };
      if (error) event.error = error;
      try {
        this.onCheck(event);
      } catch (err) {
        instance.logger.warn({ err }, 'onCheck listener threw');
      }
    }
  }
}

function intAtLeast(name: string, v: number | undefined, fallback: number, min: number): number {
  const value = v ?? fallback;
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(v)}`);
  return value;
}

/** The UNIQ_KEY prefix needs an IP literal; a host name falls back to loopback (as the Producer does). */
function safeIp(ip: string): string {
  return /^[\d.]+$|:/.test(ip) ? ip : '127.0.0.1';
}
