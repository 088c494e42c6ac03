/** `rocketry start`: NameServer + broker in one process (the `npm start` default). */
import { createLogger } from '../../common/logger';
import { startInOrder } from '../lifecycle';
import { buildStartSettings, type StartFlags } from '../server-settings';
import { startBroker } from './broker.command';
import { startNamesrv } from './namesrv.command';
import { advertisedHost, ensureDir, announceReady, type RunningServers, type ServerRunOptions } from './server-run';

/** NameServer + broker in one process; the broker registers with the embedded NameServer. */
export async function startCommand(flags: StartFlags, opts: ServerRunOptions): Promise<RunningServers> {
  const settings = buildStartSettings(flags);
  const logger = opts.logger ?? createLogger('rocketry');
  ensureDir(settings.dataDir);
  let namesrvAddr = '';
  let brokerAddr = '';
  const services = await startInOrder(
    [
      async () => {
        const ns = await startNamesrv(settings.namesrv, logger);
        namesrvAddr = `${advertisedHost(settings.namesrv.listenHost, settings.broker.brokerIP1)}:${ns.port}`;
        return ns.service;
      },
      async () => {
        // The embedded broker always registers with the embedded NameServer (its port may be 0 until now).
        const broker = await startBroker({ ...settings.broker, namesrvAddr }, logger);
        brokerAddr = `${settings.broker.brokerIP1}:${broker.port}`;
        return broker.service;
      },
    ],
    logger,
  );
  const readyLine = `rocketry ready namesrv=${namesrvAddr} broker=${brokerAddr} data=${settings.dataDir}`;
  announceReady(services, readyLine, opts, logger);
  return { services, readyLine, namesrvAddr, brokerAddr };
}

