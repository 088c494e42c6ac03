/** `rocketry broker`: a broker alone, registering with the NameServers of --namesrv. */
import { BrokerController } from '../../broker/broker-controller';
import { createLogger, type Logger } from '../../common/logger';
import type { BrokerSettings } from '../../config';
import { startInOrder, type Service } from '../lifecycle';
import { buildBrokerSettings, type BrokerFlags } from '../server-settings';
import { ensureDir, announceReady, type RunningServers, type ServerRunOptions } from './server-run';

export async function startBroker(settings: BrokerSettings, logger: Logger): Promise<{ service: Service; port: number }> {
  ensureDir(settings.storePathRootDir);
  const broker = new BrokerController(settings, { logger: logger.child({ component: 'broker' }) });
  await broker.start(); // on failure it releases what it took (sockets, store) before rejecting
  return { service: { name: 'broker', shutdown: () => broker.shutdown() }, port: broker.listenPort };
}

export async function brokerCommand(flags: BrokerFlags, opts: ServerRunOptions): Promise<RunningServers> {
  const { broker: settings, dataDir } = buildBrokerSettings(flags);
  const logger = opts.logger ?? createLogger('rocketry-broker');
  ensureDir(dataDir);
  let brokerAddr = '';
  const services = await startInOrder(
    [
      async () => {
        const broker = await startBroker(settings, logger);
        brokerAddr = `${settings.brokerIP1}:${broker.port}`;
        return broker.service;
      },
    ],
    logger,
  );
  const readyLine =
    `rocketry ready broker=${brokerAddr} cluster=${settings.brokerClusterName} name=${settings.brokerName} ` +
    `id=${settings.brokerId} namesrv=${settings.namesrvAddr || '-'} data=${dataDir}`;
  announceReady(services, readyLine, opts, logger);
  return { services, readyLine, brokerAddr, namesrvAddr: settings.namesrvAddr };
}
