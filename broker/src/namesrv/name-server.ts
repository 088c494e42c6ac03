/**
 * NameServer: route table + KV config behind a RemotingServer (NamesrvController.java).
 * Brokers register every 30 s; a broker is dropped when its channel closes or after
 * `brokerChannelExpiredTime` without registration, scanned every `scanNotActiveBrokerInterval`.
 */
import { createLogger, type Logger } from '../common/logger';
import { systemClock, type Clock } from '../common/clock';
import type { NamesrvSettings } from '../config';
import { RemotingServer } from '../remoting/remoting-server';
import { KvConfigManager } from './kv-config-manager';
import { registerNamesrvProcessors } from './namesrv-processors';
import { RouteInfoManager } from './route-info-manager';

export interface NameServerOptions {
  logger?: Logger;
  clock?: Clock;
}

export class NameServer {
  readonly routeInfoManager: RouteInfoManager;
  readonly kvConfigManager: KvConfigManager;
  private readonly server: RemotingServer;
  private readonly logger: Logger;
  private scanTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;

  constructor(
    private readonly settings: NamesrvSettings,
    opts: NameServerOptions = {},
  ) {
    this.logger = opts.logger ?? createLogger('namesrv');
    const clock = opts.clock ?? systemClock;
    this.routeInfoManager = new RouteInfoManager({ brokerChannelExpiredTimeMs: settings.brokerChannelExpiredTime, clock, logger: this.logger });
    this.kvConfigManager = new KvConfigManager(settings.kvConfigPath, this.logger);
    this.server = new RemotingServer({
      host: settings.listenHost,
      port: settings.listenPort,
      maxFrameBytes: settings.maxFrameBytes,
      logger: this.logger,
    });
    registerNamesrvProcessors(this.server, this.routeInfoManager, this.kvConfigManager, this.logger);
    // BrokerHousekeepingService: a broker whose connection closes is removed at once.
    this.server.onChannelClose((channel) => this.routeInfoManager.onChannelDestroy(channel));
  }

  /** The bound port (after start; useful with listenPort 0). */
  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    const host = this.settings.listenHost === '0.0.0.0' || this.settings.listenHost === '' ? '127.0.0.1' : this.settings.listenHost;
    return `${host}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    this.kvConfigManager.load();
    this.boundPort = await this.server.start();
    this.scanTimer = setInterval(() => this.routeInfoManager.scanNotActiveBroker(), this.settings.scanNotActiveBrokerInterval);
    this.scanTimer.unref();
    this.logger.info({ port: this.boundPort }, 'NameServer started');
  }

  async shutdown(): Promise<void> {
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.scanTimer = undefined;
    await this.server.close();
    this.logger.info({ port: this.boundPort }, 'NameServer stopped');
  }
}
