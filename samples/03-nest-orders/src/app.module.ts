/**
 * The orders service module: HTTP controller, the two ways of placing an order, the inventory
 * consumer and its dead-letter handler, wired to one knex, one outbox and RocketModule.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { createOutbox, createTransactionalProducers, type Outbox } from '@rocketry/framework';
import { RocketModule, RocketTemplate } from '@rocketry/nestjs';
import type { Knex } from 'knex';
import { AppLifecycle } from './app.lifecycle';
import type { OrdersSampleConfig } from './config';
import { db, migrate } from './database';
import { DeadLetterListener } from './dead-letter.listener';
import { InventoryListener } from './inventory.listener';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService, TransactionalOrdersService } from './orders.service';
import { KNEX, OUTBOX, SAMPLE_CONFIG, TRANSACTIONAL_PRODUCERS } from './tokens';

@Module({})
export class AppModule {
  static forRoot(cfg: OrdersSampleConfig, nameServer: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // RocketTemplate (producer group = the outbox relay's) and the @RocketListener consumers.
        RocketModule.forRoot({
          nameServer,
          producer: { group: cfg.outboxProducerGroup },
          awaitTerminationMs: 5_000,
          ...(cfg.clientRefreshMs ? { consumerOptions: { pollNameServerIntervalMs: cfg.clientRefreshMs, rebalanceIntervalMs: cfg.clientRefreshMs } } : {}),
        }),
      ],
      controllers: [OrdersController],
      providers: [
        { provide: SAMPLE_CONFIG, useValue: cfg },
        {
          // The tables exist before anything that injects KNEX runs.
          provide: KNEX,
          useFactory: async (): Promise<Knex> => {
            await migrate(db, cfg);
            return db;
          },
        },
        {
          provide: OUTBOX,
          inject: [KNEX, RocketTemplate],
          useFactory: async (knex: Knex, template: RocketTemplate): Promise<Outbox> => {
            const outbox = createOutbox({
              knex,
              template,
              pollIntervalMs: cfg.outboxPollMs,
              maxAttempts: cfg.outboxMaxAttempts,
              backoff: { initialMs: 200, maxMs: cfg.outboxMaxBackoffMs },
              leaseMs: cfg.outboxLeaseMs,
            });
            await outbox.migrate();
            return outbox;
          },
        },
        OrdersRepository,
        OrdersService,
        TransactionalOrdersService,
        {
          // Binds TransactionalOrdersService.placeOrder and answers the broker's check-backs from rocketry_tx_log.
          provide: TRANSACTIONAL_PRODUCERS,
          inject: [KNEX, TransactionalOrdersService],
          useFactory: (knex: Knex, target: TransactionalOrdersService) => createTransactionalProducers({ knex, namesrvAddr: nameServer, targets: [target] }),
        },
        InventoryListener,
        DeadLetterListener,
        AppLifecycle,
      ],
    };
  }
}
