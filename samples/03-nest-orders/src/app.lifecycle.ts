/**
 * Start and stop order of the parts Nest does not manage by itself:
 *   bootstrap: (tables were created by the KNEX provider) → outbox relay starts sending
 *   shutdown:  relay stops (its in-flight sends finish) → transactional producers stop →
 *              [RocketModule then drains the consumers and closes the template] → knex closes
 * Nest runs beforeApplicationShutdown of this module before RocketModule's, and onApplicationShutdown
 * after every beforeApplicationShutdown, so no handler still uses knex when it closes.
 */
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Outbox, TransactionalProducers } from '@rocketry/framework';
import type { Knex } from 'knex';
import { KNEX, OUTBOX, TRANSACTIONAL_PRODUCERS } from './tokens';

@Injectable()
export class AppLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('OrdersService');

  constructor(
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(TRANSACTIONAL_PRODUCERS) private readonly transactional: TransactionalProducers,
    @Inject(KNEX) private readonly knex: Knex,
  ) {}

  onApplicationBootstrap(): void {
    this.outbox.relay.start();
    this.logger.log('outbox relay started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.outbox.relay.stop();
    await this.transactional.shutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.knex.destroy();
  }
}
