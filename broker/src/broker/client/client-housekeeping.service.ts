/**
 * Client liveness (`ClientHousekeepingService.java`): every scanIntervalMs (10 s) drop producer and
 * consumer channels that have not heartbeated within channelExpiredTimeout (120 s), and remove a
 * channel at once when its connection closes. Also prunes expired queue locks so that table stays bounded.
 */
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import type { Channel } from '../../remoting/types';
import type { ConsumerManager } from './consumer-manager';
import type { ProducerManager } from './producer-manager';
import type { RebalanceLockManager } from './rebalance-lock-manager';

export const DEFAULT_CLIENT_SCAN_INTERVAL_MS = 10_000;

export interface ClientHousekeepingDeps {
  consumerManager: ConsumerManager;
  producerManager: ProducerManager;
  rebalanceLockManager?: RebalanceLockManager;
  logger?: Logger;
  /** Default 10000. */
  scanIntervalMs?: number;
}

export class ClientHousekeepingService {
  private timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(private readonly deps: ClientHousekeepingDeps) {
    this.logger = deps.logger ?? silentLogger;
  }

  start(): void {
    if (this.timer) return;
    const intervalMs = this.deps.scanIntervalMs ?? DEFAULT_CLIENT_SCAN_INTERVAL_MS;
    this.timer = setInterval(() => this.scanExpired(), intervalMs);
    this.timer.unref();
  }

  shutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One expiry pass (the timer calls it; tests call it directly). */
  scanExpired(): void {
    try {
      const consumers = this.deps.consumerManager.scanNotActiveChannel();
      const producers = this.deps.producerManager.scanNotActiveChannel();
      const locks = this.deps.rebalanceLockManager?.pruneExpired() ?? 0;
      if (consumers + producers + locks > 0) this.logger.info({ consumers, producers, locks }, 'client housekeeping dropped expired entries');
    } catch (err) {
      this.logger.error({ err }, 'client housekeeping scan failed');
    }
  }

  /** Wire to the remoting server's channel close (and exception / idle-close) event. */
  onChannelClose(channel: Channel): void {
    this.deps.producerManager.doChannelCloseEvent(channel);
    this.deps.consumerManager.doChannelCloseEvent(channel);
  }
}
