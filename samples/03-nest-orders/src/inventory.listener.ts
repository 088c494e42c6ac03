/**
 * The inventory consumer: reserves stock for every created order, exactly once per order.
 *
 * Where each guarantee comes from:
 * - at-least-once delivery: RocketMQ (offsets committed only after the handler returned; a throw →
 *   retry through `%RETRY%<group>`; after INVENTORY_MAX_RECONSUME retries → `%DLQ%<group>`, where
 *   DeadLetterListener picks it up);
 * - duplicates filtered before the handler: the listener's `dedup` option. With REDIS_URL, a Redis
 *   record per message (PROCESSING while the handler runs, DONE for 24 h); a copy arriving while the
 *   first is PROCESSING is retried later, never dropped; with Redis unreachable the message is retried
 *   later, never consumed unguarded. Without REDIS_URL the consumed-message row is written in the
 *   database, in the same transaction as the effect (exactly once by construction);
 * - the effect itself is idempotent: the ledger row is unique per order, written in one transaction
 *   with the stock change (OrdersRepository.applyInventoryEffect). That closes the window Redis alone
 *   leaves open: a process that dies after the DB commit but before Redis marked the message DONE
 *   gets the message again, and the unique key turns it into a no-op.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DeadLetterReason } from '@rocketry/framework';
import { RocketCtx, RocketListener, RocketMessage, RocketPayload, type MessageExt, type RocketContext } from '@rocketry/nestjs';
import type { Knex } from 'knex';
import { appConfig, type OrdersSampleConfig } from './config';
import { db } from './database';
import { OrdersRepository, type OrderCreatedEvent } from './orders.repository';
import { KNEX, SAMPLE_CONFIG } from './tokens';

export interface InventoryStats {
  /** Handler calls running right now. */
  inFlight: number;
  applied: number;
  alreadyApplied: number;
  failed: number;
  deadLettered: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Injectable()
export class InventoryListener {
  private readonly logger = new Logger('InventoryListener');
  private readonly counters: InventoryStats = { inFlight: 0, applied: 0, alreadyApplied: 0, failed: 0, deadLettered: 0 };

  constructor(
    @Inject(KNEX) private readonly knex: Knex,
    @Inject(OrdersRepository) private readonly orders: OrdersRepository,
    @Inject(SAMPLE_CONFIG) private readonly cfg: OrdersSampleConfig,
  ) {}

  stats(): InventoryStats {
    return { ...this.counters };
  }

  @RocketListener({
    topic: appConfig.ordersTopic,
    group: appConfig.inventoryGroup,
    selector: 'Created',
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    maxReconsumeTimes: appConfig.maxReconsumeTimes,
    delayLevelWhenNextConsume: appConfig.retryDelayLevel,
    // The message's UNIQ_KEY: the outbox keeps it across resends, @TransactionalProducer sets it to the transaction id.
    dedup: appConfig.redisUrl
      ? { store: 'redis', redis: appConfig.redisUrl, key: 'msgId', processingLeaseMs: appConfig.dedupLeaseMs, retryDelayLevel: appConfig.retryDelayLevel }
      : { store: 'db', db, key: 'msgId', retryDelayLevel: appConfig.retryDelayLevel },
    onDeadLetter: 'onDeadLetter',
  })
  async onOrderCreated(@RocketPayload() event: OrderCreatedEvent, @RocketMessage() msg: MessageExt, @RocketCtx() ctx: RocketContext): Promise<void> {
    this.counters.inFlight++;
    try {
      if (this.cfg.handlerDelayMs > 0) await sleep(this.cfg.handlerDelayMs); // simulated work (calls to a warehouse, ...)
      const effect = { orderId: event.orderId, sku: event.sku, qty: event.qty, msgId: msg.msgId };
      // dedup store 'db': the framework opened a transaction holding the consumed-message row; the
      // effect MUST go in it (one commit for both). With Redis the handler opens its own.
      const trx = ctx.extras.trx;
      const outcome = trx ? await this.orders.applyInventoryEffect(trx, effect) : await this.knex.transaction((t) => this.orders.applyInventoryEffect(t, effect));
      if (outcome === 'applied') this.counters.applied++;
      else this.counters.alreadyApplied++;
    } catch (err) {
      this.counters.failed++;
      throw err; // → retried later
    } finally {
      this.counters.inFlight--;
    }
  }

  /** The listener's dead-letter hook (option `onDeadLetter`): called once the message is in the DLQ. */
  onDeadLetter(msg: MessageExt, reason: DeadLetterReason): void {
    this.counters.deadLettered++;
    this.logger.warn(`order message ${msg.msgId} (keys ${msg.keys.join(' ')}) dead-lettered after ${reason.reconsumeTimes} retries: ${reason.message}`);
  }
}
