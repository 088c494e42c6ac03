/** `rocketry namesrv`: a NameServer alone. */
import { createLogger, type Logger } from '../../common/logger';
import type { NamesrvSettings } from '../../config';
import { NameServer } from '../../namesrv/name-server';
import { startInOrder, type Service } from '../lifecycle';
import { buildNamesrvSettings, type NamesrvFlags } from '../server-settings';
import { advertisedHost, ensureDir, announceReady, type RunningServers, type ServerRunOptions } from './server-run';

export async function startNamesrv(settings: NamesrvSettings, logger: Logger): Promise<{ service: Service; port: number }> {
  const ns = new NameServer(settings, { logger: logger.child({ component: 'namesrv' }) });
  await ns.start();
  return { service: { name: 'namesrv', shutdown: () => ns.shutdown() }, port: ns.port };
}

export async function namesrvCommand(flags: NamesrvFlags, opts: ServerRunOptions): Promise<RunningServers> {
  const { namesrv, dataDir } = buildNamesrvSettings(flags);
  const logger = opts.logger ?? createLogger('rocketry-namesrv');
  ensureDir(dataDir);
  let namesrvAddr = '';
  const services = await startInOrder(
    [
      async () => {
        const ns = await startNamesrv(namesrv, logger);
        namesrvAddr = `${advertisedHost(namesrv.listenHost, '127.0.0.1')}:${ns.port}`;
        return ns.service;
      },
    ],
    logger,
  );
  const readyLine = `rocketry ready namesrv=${namesrvAddr} data=${dataDir}`;
  announceReady(services, readyLine, opts, logger);
  return { services, readyLine, namesrvAddr };
}

