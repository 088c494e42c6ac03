/**
 * Sample 02: ordered events. Order-status events (CREATED → PAID → SHIPPED → DELIVERED) for several
 * orders are sent interleaved with `syncSendOrderly(…, orderId)`; an orderly @RocketListener checks
 * that every order's events arrive in exactly that sequence. Plain framework API (no container):
 * RocketTemplate + RocketListenerContainer.
 *
 *   node --import tsx samples/02-ordered/main.ts           (from the repository root)
 *
 * Embedded broker unless ROCKETMQ_NAME_SERVER is set. SAMPLE_ORDERS (default 8) orders, each with
 * the four statuses. SAMPLE_FAIL_ONCE=1 makes the handler fail the first delivery of every PAID
 * event, to show that an orderly listener retries in place (the queue is suspended, later events of
 * that order wait) instead of skipping ahead.
 *
 * Prints `ordered: orders N, events M, out-of-order 0` and exits 0 when every event arrived in order.
 */
import 'reflect-metadata';
import { RocketListener, RocketListenerContainer, RocketTemplate, resolveRocketryConfig, startEmbeddedBroker, type MessageExt } from '@rocketry/framework';

const TOPIC = 'OrderStatus';
const STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'DELIVERED'] as const;
type Status = (typeof STATUSES)[number];

interface StatusEvent {
  orderId: string;
  status: Status;
  /** Position in the order's life cycle (0..3), so the listener can check the sequence. */
  seq: number;
}

const orders = Number(process.env.SAMPLE_ORDERS ?? 8);
const failOnce = process.env.SAMPLE_FAIL_ONCE === '1';
const timeoutMs = Number(process.env.SAMPLE_TIMEOUT_MS ?? 30_000);

class OrderStatusListener {
  /** Next expected seq per order. */
  readonly next = new Map<string, number>();
  outOfOrder = 0;
  events = 0;
  retried = 0;
  private readonly failedOnce = new Set<string>();

  // orderly: the consumer locks each queue at the broker and hands its messages over one at a time;
  // same orderId → same queue (the send side hashes the key), so per-order order holds.
  @RocketListener({ topic: TOPIC, group: 'order-status-cg', orderly: true, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', suspendCurrentQueueTimeMillis: 100 })
  onStatus(event: StatusEvent, msg: MessageExt): void {
    if (failOnce && event.status === 'PAID' && !this.failedOnce.has(event.orderId)) {
      this.failedOnce.add(event.orderId);
      this.retried++;
      // Throwing suspends this queue for suspendCurrentQueueTimeMillis and redelivers THIS message first.
      throw new Error(`payment service busy for ${event.orderId}`);
    }
    const expected = this.next.get(event.orderId) ?? 0;
    const ok = event.seq === expected;
    if (!ok) this.outOfOrder++;
    this.next.set(event.orderId, event.seq + 1);
    this.events++;
    console.log(`${event.orderId} ${event.status.padEnd(9)} queue=${msg.queueId} reconsumeTimes=${msg.reconsumeTimes}${ok ? '' : `  OUT OF ORDER (expected seq ${expected})`}`);
  }
}

async function main(): Promise<number> {
  const external = process.env.ROCKETMQ_NAME_SERVER || undefined;
  const broker = external ? undefined : await startEmbeddedBroker({ topics: [TOPIC] });
  const nameServer = external ?? broker!.namesrvAddr;
  const config = resolveRocketryConfig({ nameServer, producer: { group: 'order-status-pg' } });

  const listener = new OrderStatusListener();
  const container = new RocketListenerContainer({ config });
  container.registerInstance(listener);
  const template = RocketTemplate.fromConfig(config);
  try {
    await template.start();
    await container.start();
    // Interleave orders so the broker sees o-1 CREATED, o-2 CREATED, ..., o-1 PAID, ...
    for (const [seq, status] of STATUSES.entries()) {
      for (let i = 1; i <= orders; i++) {
        const orderId = `o-${i}`;
        await template.syncSendOrderly(`${TOPIC}:${status}`, { orderId, status, seq } satisfies StatusEvent, orderId, { keys: orderId });
      }
    }
    const total = orders * STATUSES.length;
    const deadline = Date.now() + timeoutMs;
    while (listener.events < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const complete = [...listener.next.values()].filter((n) => n === STATUSES.length).length;
    console.log(`ordered: orders ${orders}, events ${listener.events}, out-of-order ${listener.outOfOrder}, complete ${complete}, retried ${listener.retried}`);
    return listener.events === total && listener.outOfOrder === 0 && complete === orders ? 0 : 1;
  } finally {
    await container.stop();
    await template.destroy();
    await broker?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
