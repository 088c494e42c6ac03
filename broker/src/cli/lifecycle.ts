/**
 * Process lifecycle for the long-running commands: start services in order, stop them in reverse,
 * and turn SIGTERM/SIGINT into a clean shutdown (flush) with exit 0. A second signal, or a
 * shutdown that overruns its bound, forces exit 1.
 */
import type { Logger } from '../common/logger';
import { ExitCode } from './cli-error';

export interface Service {
  readonly name: string;
  shutdown(): Promise<void> | void;
}

/** Bound on a graceful shutdown; a flush that hangs must not keep the process alive forever. */
export const SHUTDOWN_TIMEOUT_MS = 30_000;
/**
 * A repeat signal this soon after the first is the same request delivered twice (Ctrl-C reaches both
 * npm and node through the process group; `timeout` signals the child and its group), not a user
 * asking to force the exit.
 */
export const DUPLICATE_SIGNAL_WINDOW_MS = 1_000;

/** Stops services in reverse start order; keeps going when one fails and reports all failures. */
export async function shutdownAll(services: readonly Service[], logger: Logger): Promise<boolean> {
  let ok = true;
  for (const s of [...services].reverse()) {
    try {
      await s.shutdown();
      logger.info({ service: s.name }, 'stopped');
    } catch (err) {
      ok = false;
      logger.error({ service: s.name, err }, 'shutdown failed');
    }
  }
  return ok;
}

/**
 * Starts services one by one (each `start` returns the started service). If one fails, those
 * already running are stopped before the error propagates, so a failed start leaves nothing behind.
 */
export async function startInOrder(starters: ReadonlyArray<() => Promise<Service>>, logger: Logger): Promise<Service[]> {
  const running: Service[] = [];
  for (const start of starters) {
    try {
      running.push(await start());
    } catch (err) {
      await shutdownAll(running, logger);
      throw err;
    }
  }
  return running;
}

export interface ShutdownHooksOptions {
  logger: Logger;
  timeoutMs?: number;
  exit?: (code: number) => void;
  /** Default true; specs drive the returned stop function instead. */
  installProcessHandlers?: boolean;
  now?: () => number;
}

/** Installs the signal handlers; returns a function that triggers the same shutdown (tests, fatal errors). */
export function installShutdownHooks(services: readonly Service[], opts: ShutdownHooksOptions): (reason: string, code?: number) => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const now = opts.now ?? Date.now;
  let stoppingSince: number | undefined;
  const stop = (reason: string, code: number = ExitCode.OK) => {
    if (stoppingSince !== undefined) {
      if (now() - stoppingSince < DUPLICATE_SIGNAL_WINDOW_MS) {
        opts.logger.debug({ reason }, 'repeated stop request ignored (same signal delivered twice)');
        return;
      }
      opts.logger.warn({ reason }, 'second stop request: forcing exit');
      exit(ExitCode.FAILURE);
      return;
    }
    stoppingSince = now();
    opts.logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      opts.logger.error({ timeoutMs: opts.timeoutMs ?? SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out: forcing exit');
      exit(ExitCode.FAILURE);
    }, opts.timeoutMs ?? SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    void shutdownAll(services, opts.logger).then((ok) => {
      clearTimeout(timer);
      exit(ok ? code : ExitCode.FAILURE);
    });
  };
  if (opts.installProcessHandlers === false) return stop;
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (err) => {
    opts.logger.fatal({ err }, 'uncaught exception');
    stop('uncaughtException', ExitCode.FAILURE);
  });
  process.on('unhandledRejection', (err) => {
    opts.logger.fatal({ err }, 'unhandled rejection');
    stop('unhandledRejection', ExitCode.FAILURE);
  });
  return stop;
}
