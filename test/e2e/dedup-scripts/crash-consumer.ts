/**
 * A consumer process for the dedup crash suite (`node --import tsx crash-consumer.ts '<json config>'`).
 *
 * config: { namesrvAddr, topic, group, store: 'redis' | 'db', redisUrl?, keyPrefix?, db?: <knex config>,
 *           consumedTable?, bizTable?, killAfterEffect: boolean }
 * The handler makes one effect per run (Redis: INCR <keyPrefix>:effects:<id>; DB: a business row in
 * the dedup transaction). With killAfterEffect the process SIGKILLs itself as soon as the push consumer
 * reports the message consumed — after the effect and the dedup record, before the offset is
 * committed — so the broker redelivers it to the next consumer of the group.
 *
 * stdout, one JSON object per line: {"event":"ready"} {"event":"effect","id":"..."} {"event":"killing"}
 * {"event":"stats","consumed":n,"duplicates":n}
 */
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { resolveRocketryConfig } from '../../../framework/src/config/rocketry-config';
import { RocketListener } from '../../../framework/src/decorators/rocket-listener.decorator';
import type { MessageExt } from '../../../framework/src/client/message';
import type { DedupOptions, RocketListenerExtras } from '../../../framework/src/dedup/dedup-options';
import { RocketListenerContainer } from '../../../framework/src/listener/rocket-listener-container';
import { createTestKnex } from '../../../framework/src/transaction/db.test-support';

interface Config {
  namesrvAddr: string;
  topic: string;
  group: string;
  store: 'redis' | 'db';
  redisUrl?: string;
  keyPrefix?: string;
  db?: Knex.Config;
  consumedTable?: string;
  bizTable?: string;
  killAfterEffect: boolean;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const knex = cfg.db ? createTestKnex(cfg.db) : undefined;
  const redis = cfg.redisUrl ? new Redis(cfg.redisUrl) : undefined;
  const dedup: DedupOptions =
    cfg.store === 'redis'
      ? { store: 'redis', redis: cfg.redisUrl!, keyPrefix: cfg.keyPrefix!, processingLeaseMs: 2_000 }
      : { store: 'db', db: knex!, tableName: cfg.consumedTable! };

  class Inventory {
    @RocketListener({ topic: cfg.topic, group: cfg.group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup })
    async onOrder(p: { id: string }, _msg: MessageExt, { trx }: RocketListenerExtras): Promise<void> {
      if (cfg.store === 'redis') await redis!.incr(`${cfg.keyPrefix}:effects:${p.id}`);
      else await trx!(cfg.bizTable!).insert({ order_id: p.id, pid: process.pid });
      emit({ event: 'effect', id: p.id });
    }
  }

  const config = resolveRocketryConfig({ nameServer: cfg.namesrvAddr, env: false });
  const container = new RocketListenerContainer({ config, consumerOptions: { rebalanceIntervalMs: 300, pollNameServerIntervalMs: 300 } });
  container.registerInstance(new Inventory());
  await container.start();
  const consumer = container.consumers().get(cfg.group)!;
  if (cfg.killAfterEffect) {
    // Emitted after the handler (and the dedup record) succeeded, before the offset moves past the message.
    consumer.on('consume', () => {
      emit({ event: 'killing' });
      process.kill(process.pid, 'SIGKILL');
    });
  }
  setInterval(() => {
    const c = container.health().consumers[0];
    emit({ event: 'stats', consumed: c?.consumed ?? 0, duplicates: c?.duplicates ?? 0 });
  }, 200);
  emit({ event: 'ready' });
  process.once('SIGTERM', () => {
    void container.stop({ awaitTerminationMs: 500 }).finally(async () => {
      await knex?.destroy();
      redis?.disconnect();
      process.exit(0);
    });
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
