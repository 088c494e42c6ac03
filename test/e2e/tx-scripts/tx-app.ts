/**
 * A plain-Node app with a `@TransactionalProducer` service, run as its own process by the transaction
 * suites (`node --import tsx tx-app.ts '<json config>'`).
 *
 * config: { namesrvAddr, group, topic, db: <knex config>, tableName, bizTable, localTransactionTimeoutMs,
 *           ops?: Op[], instanceName? }
 *   Op = { id, mode: 'args' | 'result', kill?: <phase>, throwAt?: 'method-start' | 'method-end' | <phase> }
 *   phases: half-sent | method-done | before-db-commit | after-db-commit | end-sent
 * Runs the ops one after the other, then stays up answering check-backs until SIGTERM.
 * `kill` SIGKILLs this process at that phase of that op (after printing a "killing" line).
 *
 * stdout, one JSON object per line:
 *   {"event":"ready","pid":1}
 *   {"event":"op","id":"o1","ok":true,"txId":"..."}  / {"event":"op","id":"o2","ok":false,"error":"..."}
 *   {"event":"killing","id":"o3","phase":"after-db-commit","txId":"..."}
 *   {"event":"check","txId":"...","state":"COMMIT"}          (a check-back this process answered)
 *   {"event":"idle"}                                         (all ops done)
 */
import type { Knex } from 'knex';
import { createTestKnex } from '../../../framework/src/transaction/db.test-support';
import { TransactionalProducer } from '../../../framework/src/transaction/transactional-producer.decorator';
import { createTransactionalProducers, currentTrx, getTransactionalContext } from '../../../framework/src/transaction/transactional-runtime';
import type { TransactionalPhase } from '../../../framework/src/transaction/transactional-producer-options';

interface Op {
  id: string;
  mode: 'args' | 'result';
  kill?: TransactionalPhase;
  throwAt?: 'method-start' | 'method-end' | TransactionalPhase;
}

interface Config {
  namesrvAddr: string;
  group: string;
  topic: string;
  db: Knex.Config;
  tableName: string;
  bizTable: string;
  localTransactionTimeoutMs: number;
  ops?: Op[];
  instanceName?: string;
}

function print(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
  const knex = createTestKnex(cfg.db);
  let current: Op | undefined;

  class OrderService {
    @TransactionalProducer({ topic: cfg.topic, group: cfg.group, tags: 'created', message: (op: Op) => ({ payload: { id: op.id }, keys: [op.id] }) })
    async createFromArgs(op: Op): Promise<string> {
      return this.write(op);
    }

    @TransactionalProducer({ topic: cfg.topic, group: cfg.group, tags: 'created' })
    async createFromResult(op: Op): Promise<{ payload: { id: string }; keys: string[] }> {
      await this.write(op);
      return { payload: { id: op.id }, keys: [op.id] };
    }

    private async write(op: Op): Promise<string> {
      if (op.throwAt === 'method-start') throw new Error(`boom at method-start (${op.id})`);
      const trx = currentTrx();
      await trx(cfg.bizTable).insert({ id: op.id, tx_id: getTransactionalContext()!.transactionId });
      if (op.throwAt === 'method-end') throw new Error(`boom at method-end (${op.id})`);
      return op.id;
    }
  }

  const service = new OrderService();
  const producers = await createTransactionalProducers({
    knex,
    namesrvAddr: cfg.namesrvAddr,
    targets: [service],
    tableName: cfg.tableName,
    localTransactionTimeoutMs: cfg.localTransactionTimeoutMs,
    cleanupIntervalMs: 0,
    producerOptions: {
      clientIP: '127.0.0.1',
      heartbeatBrokerIntervalMs: 1_000,
      ...(cfg.instanceName ? { instanceName: cfg.instanceName } : {}),
      onCheck: (e) => print({ event: 'check', txId: e.transactionId, state: e.state, error: e.error?.message }),
    },
    onPhase: (phase, info) => {
      const op = current;
      if (!op) return;
      if (op.kill === phase) {
        print({ event: 'killing', id: op.id, phase, txId: info.transactionId });
        process.kill(process.pid, 'SIGKILL');
      }
      if (op.throwAt === phase) throw new Error(`boom at ${phase} (${op.id})`);
    },
  });
  // Make sure the broker knows this group's channel before anything else happens.
  for (const p of producers.producers.values()) {
    await p.fetchPublishMessageQueues(cfg.topic).catch(() => undefined);
    await p.clientInstance.sendHeartbeatToAllBrokers();
  }
  print({ event: 'ready', pid: process.pid });

  for (const op of cfg.ops ?? []) {
    current = op;
    let txId: string | undefined;
    try {
      if (op.mode === 'args') await service.createFromArgs(op);
      else await service.createFromResult(op);
      txId = (await knex(cfg.bizTable).where({ id: op.id }).first<{ tx_id: string } | undefined>())?.tx_id;
      print({ event: 'op', id: op.id, ok: true, txId });
    } catch (err) {
      print({ event: 'op', id: op.id, ok: false, error: (err as Error).message });
    }
  }
  current = undefined;
  print({ event: 'idle' });

  const stop = async () => {
    const timer = setTimeout(() => process.exit(2), 10_000);
    await producers.shutdown();
    await knex.destroy();
    clearTimeout(timer);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  print({ event: 'fatal', error: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
