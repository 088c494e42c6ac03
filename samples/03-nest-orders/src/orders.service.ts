/**
 * Placing an order, two ways:
 *
 * - `OrdersService.placeOrder` (POST /orders): the order row and an outbox row are written in ONE
 *   database transaction. Nothing is sent to the broker here; the outbox relay sends committed rows
 *   afterwards (retrying with backoff while the broker is down). So: no message without a committed
 *   order (a rolled-back transaction leaves no outbox row), and no committed order without a message
 *   (the row stays until the relay got a SEND_OK for it).
 * - `TransactionalOrdersService.placeOrder` (POST /orders/transactional): `@TransactionalProducer`,
 *   RocketMQ's transactional message. The method runs in a knex transaction, a half message is sent
 *   before the DB commit, COMMIT after it; if the process dies in between, the broker asks back and
 *   the framework answers from its local transaction table (written in the same DB transaction).
 *
 * Both are idempotent by order id: placing an existing id returns the stored order (`created: false`),
 * so a client may retry after a timeout or a connection reset without creating a second order.
 */
import { Inject, Injectable } from '@nestjs/common';
import { currentTrx, TransactionalProducer, type Outbox } from '@rocketry/framework';
import type { Knex } from 'knex';
import { appConfig, type OrdersSampleConfig } from './config';
import { OrdersRepository, toOrderCreatedEvent, type Order, type OrderVia } from './orders.repository';
import { KNEX, OUTBOX, SAMPLE_CONFIG } from './tokens';

export interface PlaceOrderInput {
  id: string;
  sku: string;
  qty: number;
}

export interface PlaceOrderResult {
  order: Order;
  created: boolean;
}

function newOrder(input: PlaceOrderInput, via: OrderVia): Order {
  return { id: input.id, sku: input.sku, qty: input.qty, status: 'CREATED', via, createdAtMs: Date.now() };
}

@Injectable()
export class OrdersService {
  constructor(
    @Inject(KNEX) private readonly knex: Knex,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(OrdersRepository) private readonly orders: OrdersRepository,
    @Inject(SAMPLE_CONFIG) private readonly cfg: OrdersSampleConfig,
  ) {}

  async placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
    try {
      return await this.knex.transaction(async (trx) => {
        const existing = await this.orders.findOrder(input.id, trx);
        if (existing) return { order: existing, created: false };
        const order = newOrder(input, 'outbox');
        await this.orders.insertOrder(trx, order);
        // Same transaction: the message exists exactly when the order does.
        await this.outbox.enqueue(trx, { topic: this.cfg.ordersTopic, tags: 'Created', keys: order.id, body: toOrderCreatedEvent(order) });
        return { order, created: true };
      });
    } catch (err) {
      // A concurrent request with the same id won the primary key: report its order.
      const existing = await this.orders.findOrder(input.id).catch(() => undefined);
      if (existing) return { order: existing, created: false };
      throw err;
    }
  }
}

@Injectable()
export class TransactionalOrdersService {
  constructor(@Inject(OrdersRepository) private readonly orders: OrdersRepository) {}

  /**
   * Runs inside the knex transaction the runtime opened (`currentTrx()`); the returned order becomes
   * the message (`messageFromResult`). Throwing rolls the DB back and the half message with it.
   */
  @TransactionalProducer({
    topic: appConfig.ordersTopic,
    group: appConfig.txProducerGroup,
    tags: 'Created',
    messageFromResult: (order: Order) => ({ payload: toOrderCreatedEvent(order), keys: order.id }),
  })
  async placeOrder(input: PlaceOrderInput): Promise<Order> {
    const trx = currentTrx();
    const order = newOrder(input, 'transactional');
    await this.orders.insertOrder(trx, order);
    return order;
  }

  /** Idempotent wrapper: an existing id returns the stored order without a second message. */
  async placeOrderOnce(input: PlaceOrderInput): Promise<PlaceOrderResult> {
    const existing = await this.orders.findOrder(input.id);
    if (existing) return { order: existing, created: false };
    try {
      return { order: await this.placeOrder(input), created: true };
    } catch (err) {
      const raced = await this.orders.findOrder(input.id).catch(() => undefined);
      if (raced) return { order: raced, created: false };
      throw err;
    }
  }
}
