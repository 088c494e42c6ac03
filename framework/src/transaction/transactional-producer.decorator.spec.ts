import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { getTransactionalProducerMetadata } from './transactional-metadata';
import { TransactionalProducer } from './transactional-producer.decorator';
import { createTransactionalProducers, currentTrx, getTransactionalContext, TransactionalError } from './transactional-runtime';

const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });

class Base {
  @TransactionalProducer({ topic: 'T', group: 'g1', tags: 'a' })
  async one(): Promise<{ payload: string }> {
    return { payload: 'x' };
  }
}

class Derived extends Base {
  @TransactionalProducer({ topic: 'T2', group: 'g2', message: (id: string) => ({ payload: id }) })
  async two(id: string): Promise<string> {
    return id;
  }
}

describe('@TransactionalProducer', () => {
  afterAll(async () => {
    await knex.destroy();
  });

  it('records metadata per method, own and inherited', () => {
    const meta = getTransactionalProducerMetadata(new Derived());
    expect(meta.map((m) => [m.className, String(m.propertyKey), m.options.topic, m.options.group])).toEqual([
      ['Derived', 'two', 'T2', 'g2'],
      ['Base', 'one', 'T', 'g1'],
    ]);
    expect(getTransactionalProducerMetadata({})).toEqual([]);
  });

  it('never runs the method outside a transaction: an unbound instance rejects with NOT_BOUND', async () => {
    const err = await new Derived().two('a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionalError);
    expect((err as TransactionalError).code).toBe('NOT_BOUND');
    expect(() => currentTrx()).toThrow(/outside/);
    expect(getTransactionalContext()).toBeUndefined();
  });

  it('rejects bad configurations before connecting anywhere', async () => {
    class Both {
      @TransactionalProducer({ topic: 'T', group: 'g', message: () => ({ payload: 1 }), messageFromResult: () => ({ payload: 2 }) })
      async m(): Promise<void> {}
    }
    class TwoCheckers {
      @TransactionalProducer({ topic: 'T', group: 'g', checker: () => 'COMMIT' })
      async a(): Promise<void> {}
      @TransactionalProducer({ topic: 'T', group: 'g', checker: () => 'ROLLBACK' })
      async b(): Promise<void> {}
    }
    class NoTopic {
      @TransactionalProducer({ topic: '', group: 'g' })
      async m(): Promise<void> {}
    }
    const opts = { knex, namesrvAddr: '127.0.0.1:1' };
    await expect(createTransactionalProducers({ ...opts, targets: [{}] })).rejects.toThrow(/no @TransactionalProducer/);
    await expect(createTransactionalProducers({ ...opts, targets: [new Both()] })).rejects.toThrow(/not both/);
    await expect(createTransactionalProducers({ ...opts, targets: [new TwoCheckers()] })).rejects.toThrow(/another checker/);
    await expect(createTransactionalProducers({ ...opts, targets: [new NoTopic()] })).rejects.toThrow(/topic is required/);
    await expect(createTransactionalProducers({ ...opts, targets: [new Base()], tableName: 'bad-name' })).rejects.toThrow(/invalid transaction table name/);
  });
});
