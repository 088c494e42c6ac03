/**
 * Health of the messaging side, in @nestjs/terminus's result shape (no terminus import needed):
 *
 *   @Get('health') @HealthCheck()
 *   check() { return this.health.check([() => this.rocket.isHealthy('rocketmq')]); }
 *
 * 'up' when the producer runs (if one is configured) and every enabled consumer runs; the details
 * list each consumer group (topics, listeners, running, assigned queues, consumed/failed counts,
 * last error). Terminus reports a 'down' result as an error (HTTP 503).
 */
import { Inject, Injectable } from '@nestjs/common';
import { RocketListenerContainer, RocketTemplate, type ConsumerHealth } from '@rocketry/framework';
import { ROCKET_LISTENER_CONTAINER } from './rocket.constants';

export interface RocketHealthDetails {
  producer: { group: string; running: boolean } | null;
  consumers: Array<Omit<ConsumerHealth, 'assignedQueues'> & { assignedQueues: number }>;
  disabledListeners: string[];
  state: string;
}

/** Terminus `HealthIndicatorResult` for one key. */
export type RocketHealthResult<Key extends string = string> = Record<Key, { status: 'up' | 'down' } & RocketHealthDetails>;

@Injectable()
export class RocketHealthIndicator {
  constructor(
    @Inject(ROCKET_LISTENER_CONTAINER) private readonly container: RocketListenerContainer,
    @Inject(RocketTemplate) private readonly template: RocketTemplate | undefined,
  ) {}

  /** Current state (never throws): use it directly in a terminus `HealthCheckService.check([...])`. */
  isHealthy<const Key extends string = 'rocketmq'>(key?: Key): RocketHealthResult<Key> {
    const h = this.container.health();
    const producer = this.template ? { group: this.template.producer.group, running: this.template.producer.running } : null;
    const up = h.status === 'up' && (producer === null || producer.running);
    const details: RocketHealthDetails = {
      producer,
      consumers: h.consumers.map((c) => ({ ...c, assignedQueues: c.assignedQueues.length })),
      disabledListeners: h.disabled,
      state: h.state,
    };
    return { [key ?? 'rocketmq']: { status: up ? 'up' : 'down', ...details } } as RocketHealthResult<Key>;
  }
}
