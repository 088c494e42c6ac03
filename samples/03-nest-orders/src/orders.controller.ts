/**
 * HTTP API of the orders service.
 *
 *   POST /orders                 {id?, sku, qty} → 201 {order, created: true} | 200 {order, created: false}
 *                                order row + outbox row in one DB transaction
 *   POST /orders/transactional   same body and answers, through @TransactionalProducer
 *   GET  /orders/:id             {order, effect} (effect = the inventory ledger row once consumed)
 *   GET  /dead-letters           the inventory consumer's dead letters (newest first)
 *   GET  /stats                  ledger counts, outbox rows per status, inventory handler counters
 *   GET  /health                 RocketHealthIndicator (terminus format)
 *
 * A write the database refused answers 503 (the order does not exist; the client may retry with the
 * same id). A client that saw no answer (timeout, reset) retries with the same id: placing is idempotent.
 */
import { BadRequestException, Body, Controller, Get, HttpCode, HttpException, Inject, NotFoundException, Param, Post, Res } from '@nestjs/common';
import { RocketHealthIndicator } from '@rocketry/nestjs';
import type { Outbox } from '@rocketry/framework';
import { randomUUID } from 'node:crypto';
import { InventoryListener } from './inventory.listener';
import { OrdersRepository } from './orders.repository';
import { OrdersService, TransactionalOrdersService, type PlaceOrderInput, type PlaceOrderResult } from './orders.service';
import { OUTBOX } from './tokens';

/** What Express's response offers that this controller uses (status of a passthrough response). */
interface StatusResponse {
  status(code: number): unknown;
}

const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

function parseOrder(body: unknown): PlaceOrderInput {
  const b = (body ?? {}) as Record<string, unknown>;
  const id = b.id === undefined ? randomUUID() : b.id;
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new BadRequestException('id must match [A-Za-z0-9_.:-]{1,64}');
  if (typeof b.sku !== 'string' || !ID_RE.test(b.sku)) throw new BadRequestException('sku is required ([A-Za-z0-9_.:-]{1,64})');
  if (typeof b.qty !== 'number' || !Number.isInteger(b.qty) || b.qty < 1 || b.qty > 1_000) throw new BadRequestException('qty must be an integer in [1, 1000]');
  return { id, sku: b.sku, qty: b.qty };
}

/** Database refused the write (constraint, trigger, connection): 503, nothing was stored. */
function notStored(err: unknown): HttpException {
  if (err instanceof HttpException) return err;
  return new HttpException({ statusCode: 503, error: 'order not stored', reason: err instanceof Error ? err.message.slice(0, 300) : String(err) }, 503);
}

@Controller()
export class OrdersController {
  constructor(
    @Inject(OrdersService) private readonly orders: OrdersService,
    @Inject(TransactionalOrdersService) private readonly txOrders: TransactionalOrdersService,
    @Inject(OrdersRepository) private readonly repo: OrdersRepository,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(InventoryListener) private readonly inventory: InventoryListener,
    @Inject(RocketHealthIndicator) private readonly health: RocketHealthIndicator,
  ) {}

  @Post('orders')
  @HttpCode(201)
  async place(@Body() body: unknown, @Res({ passthrough: true }) res: StatusResponse): Promise<PlaceOrderResult> {
    const input = parseOrder(body);
    const result = await this.orders.placeOrder(input).catch((err: unknown) => {
      throw notStored(err);
    });
    if (!result.created) res.status(200);
    return result;
  }

  @Post('orders/transactional')
  @HttpCode(201)
  async placeTransactional(@Body() body: unknown, @Res({ passthrough: true }) res: StatusResponse): Promise<PlaceOrderResult> {
    const input = parseOrder(body);
    const result = await this.txOrders.placeOrderOnce(input).catch((err: unknown) => {
      throw notStored(err);
    });
    if (!result.created) res.status(200);
    return result;
  }

  @Get('orders/:id')
  async get(@Param('id') id: string): Promise<unknown> {
    const order = await this.repo.findOrder(id);
    if (!order) throw new NotFoundException(`order ${id} not found`);
    return { order, effect: (await this.repo.findEffect(id)) ?? null };
  }

  @Get('dead-letters')
  deadLetters(): Promise<unknown> {
    return this.repo.deadLetters();
  }

  @Get('stats')
  async stats(): Promise<unknown> {
    return {
      ledger: await this.repo.stats(),
      outbox: await this.outbox.counts(),
      inventory: this.inventory.stats(),
    };
  }

  @Get('health')
  health_(): unknown {
    return this.health.isHealthy('rocketmq');
  }
}
