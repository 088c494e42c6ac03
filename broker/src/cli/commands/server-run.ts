/**
 * Shared by `rocketry start | namesrv | broker`: start the servers, print ONE ready line on stdout
 * (`rocketry ready ...`, what scripts and tests wait for), then run until a signal.
 * Ports may be 0; the ready line shows the ports actually bound.
 */
import fs from 'node:fs';
import type { Logger } from '../../common/logger';
import { installShutdownHooks, type Service } from '../lifecycle';
import type { Output } from '../output';
import { isWildcardHost } from '../server-settings';

export interface ServerRunOptions {
  out: Output;
  /** Default: pino loggers on stdout (ROCKETRY_LOG_LEVEL sets the level). */
  logger?: Logger;
  /** Default true; specs that drive the services themselves turn it off. */
  installSignalHandlers?: boolean;
}

export interface RunningServers {
  services: Service[];
  readyLine: string;
  namesrvAddr?: string;
  brokerAddr?: string;
}

export function ensureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
}

/** Host clients should dial for a server listening on `listenHost`. */
export function advertisedHost(listenHost: string, fallback: string): string {
  return isWildcardHost(listenHost) ? fallback : listenHost;
}

export function announceReady(running: Service[], readyLine: string, opts: ServerRunOptions, logger: Logger): void {
  if (opts.installSignalHandlers !== false) installShutdownHooks(running, { logger });
  opts.out.line(readyLine);
}

