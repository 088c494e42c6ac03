/**
 * A relay process that dies between the send and mark-SENT (`node --import tsx crash-relay.ts '<json>'`):
 * it claims one batch, sends the first row to the broker for real, prints
 * `{"event":"sent","msgId":"..."}` and SIGKILLs itself before the row can be marked SENT.
 *
 * config: { namesrvAddr, group, db: <knex config>, tableName, leaseMs }
 */
import type { Knex } from 'knex';
import { Producer } from '../../../framework/src/client/producer/producer';
import { createOutbox } from '../../../framework/src/outbox/outbox';
import { createTestKnex } from '../../../framework/src/transaction/db.test-support';

interface Config {
  namesrvAddr: string;
  group: string;
  db: Knex.Config;
  tableName: string;
  leaseMs: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as Config;
  const knex = createTestKnex(config.db);
  const producer = new Producer({ namesrvAddr: config.namesrvAddr, group: config.group, clientIP: '127.0.0.1' });
  await producer.start();
  const outbox = createOutbox({
    knex,
    tableName: config.tableName,
    leaseMs: config.leaseMs,
    relayId: 'crashing-relay',
    send: async (msg, shardingKey) => {
      const result = shardingKey !== undefined ? await producer.sendOrderly(msg, shardingKey) : await producer.send(msg);
      process.stdout.write(`${JSON.stringify({ event: 'sent', msgId: result.msgId })}\n`, () => process.kill(process.pid, 'SIGKILL'));
      await new Promise(() => undefined); // never marks SENT
      return result;
    },
  });
  process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
  await outbox.relay.runOnce();
  process.stdout.write(`${JSON.stringify({ event: 'fatal', error: 'nothing was claimed' })}\n`);
  process.exit(2);
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ event: 'fatal', error: String(err) })}\n`);
  process.exit(1);
});
