/**
 * Data access of the sample. Every write takes the caller's transaction (`trx`), so the caller
 * decides what commits together: the order row and its outbox row; the inventory effect, the stock
 * change and (with `dedup: { store: 'db' }`) the consumed-message row.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Knex } from 'knex';
import type { OrdersSampleConfig } from './config';
import { KNEX, SAMPLE_CONFIG } from './tokens';

export type OrderVia = 'outbox' | 'transactional';

export interface Order {
  id: string;
  sku: string;
  qty: number;
  status: 'CREATED';
  via: OrderVia;
  createdAtMs: number;
}

/** The event consumers receive (topic ORDERS_TOPIC, tag `Created`, keys = order id). */
export interface OrderCreatedEvent {
  orderId: string;
  sku: string;
  qty: number;
  via: OrderVia;
}

export interface InventoryEffect {
  orderId: string;
  sku: string;
  qty: number;
  msgId: string;
  deliveries: number;
  appliedAtMs: number;
}

export interface LedgerStats {
  orders: number;
  effects: number;
  /** Effects reached by more than one delivery (absorbed by the unique key). */
  redeliveredEffects: number;
  deadLetters: number;
}

interface OrderRow {
  id: string;
  sku: string;
  qty: number;
  status: string;
  via: string;
  created_at_ms: number | string;
}

interface EffectRow {
  order_id: string;
  sku: string;
  qty: number;
  msg_id: string;
  deliveries: number;
  applied_at_ms: number | string;
}

/** Thrown by the inventory effect when the SKU has less stock than the order needs (retried, then dead-lettered). */
export class InsufficientStockError extends Error {
  constructor(
    readonly sku: string,
    readonly qty: number,
  ) {
    super(`insufficient stock of ${sku} for ${qty}`);
    this.name = 'InsufficientStockError';
  }
}

export function toOrderCreatedEvent(order: Order): OrderCreatedEvent {
  return { orderId: order.id, sku: order.sku, qty: order.qty, via: order.via };
}

@Injectable()
export class OrdersRepository {
  constructor(
    @Inject(KNEX) private readonly knex: Knex,
    @Inject(SAMPLE_CONFIG) private readonly cfg: OrdersSampleConfig,
  ) {}

  async insertOrder(trx: Knex.Transaction, order: Order): Promise<void> {
    await trx('orders').insert({ id: order.id, sku: order.sku, qty: order.qty, status: order.status, via: order.via, created_at_ms: order.createdAtMs });
  }

  async findOrder(id: string, db: Knex | Knex.Transaction = this.knex): Promise<Order | undefined> {
    const row = (await db('orders').where({ id }).first()) as OrderRow | undefined;
    if (!row) return undefined;
    return { id: row.id, sku: row.sku, qty: Number(row.qty), status: 'CREATED', via: row.via as OrderVia, createdAtMs: Number(row.created_at_ms) };
  }

  async findEffect(orderId: string): Promise<InventoryEffect | undefined> {
    const row = (await this.knex('inventory_effects').where({ order_id: orderId }).first()) as EffectRow | undefined;
    if (!row) return undefined;
    return { orderId: row.order_id, sku: row.sku, qty: Number(row.qty), msgId: row.msg_id, deliveries: Number(row.deliveries), appliedAtMs: Number(row.applied_at_ms) };
  }

  /**
   * The inventory effect of one order, inside the caller's transaction: the ledger row (unique per
   * order) and the stock decrement. A second delivery of the same order finds the row and changes
   * nothing but its `deliveries` counter. Two deliveries racing both insert; the unique key lets one
   * commit and fails the other, whose message is then retried and finds the row.
   */
  async applyInventoryEffect(trx: Knex.Transaction, e: { orderId: string; sku: string; qty: number; msgId: string }): Promise<'applied' | 'already-applied'> {
    const existing = await trx('inventory_effects').where({ order_id: e.orderId }).first('order_id');
    if (existing) {
      await trx('inventory_effects').where({ order_id: e.orderId }).increment('deliveries', 1);
      return 'already-applied';
    }
    await trx('stock').insert({ sku: e.sku, available: this.cfg.initialStock }).onConflict('sku').ignore();
    // Conditional decrement: never below zero (the row lock also orders concurrent reservations).
    const updated = await trx('stock').where({ sku: e.sku }).andWhere('available', '>=', e.qty).decrement('available', e.qty);
    if (Number(updated) !== 1) throw new InsufficientStockError(e.sku, e.qty);
    await trx('inventory_effects').insert({ order_id: e.orderId, sku: e.sku, qty: e.qty, msg_id: e.msgId, deliveries: 1, applied_at_ms: Date.now() });
    return 'applied';
  }

  async recordDeadLetter(d: { msgId: string; orderId: string | undefined; reconsumeTimes: number; reason: string | undefined }): Promise<void> {
    await this.knex('dead_letters').insert({
      msg_id: d.msgId,
      order_id: d.orderId ?? null,
      reconsume_times: d.reconsumeTimes,
      reason: d.reason?.slice(0, 500) ?? null,
      received_at_ms: Date.now(),
    });
  }

  async deadLetters(limit = 100): Promise<Array<{ msgId: string; orderId: string | null; reconsumeTimes: number; reason: string | null; receivedAtMs: number }>> {
    const rows = (await this.knex('dead_letters').orderBy('id', 'desc').limit(limit)) as Array<{
      msg_id: string;
      order_id: string | null;
      reconsume_times: number;
      reason: string | null;
      received_at_ms: number | string;
    }>;
    return rows.map((r) => ({ msgId: r.msg_id, orderId: r.order_id, reconsumeTimes: Number(r.reconsume_times), reason: r.reason, receivedAtMs: Number(r.received_at_ms) }));
  }

  async stats(): Promise<LedgerStats> {
    const count = async (q: Knex.QueryBuilder) => Number(((await q.count<{ n: number | string }[]>({ n: '*' })) as { n: number | string }[])[0]?.n ?? 0);
    return {
      orders: await count(this.knex('orders')),
      effects: await count(this.knex('inventory_effects')),
      redeliveredEffects: await count(this.knex('inventory_effects').where('deliveries', '>', 1)),
      deadLetters: await count(this.knex('dead_letters')),
    };
  }
}
