import pino, { type Logger } from 'pino';

export type { Logger };

/** One logger factory for broker, namesrv and CLI. `ROCKETRY_LOG_LEVEL` overrides the level. */
export function createLogger(name: string, level = process.env.ROCKETRY_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

/** A logger that drops everything (unit tests that do not assert on logs). */
export const silentLogger: Logger = pino({ level: 'silent' });
