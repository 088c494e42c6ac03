/**
 * The CLI's error policy in one place: expected failures print one line on stderr and exit non-zero;
 * only ROCKETRY_DEBUG shows stack traces.
 */
import { SettingsError } from '../config';
import { RemotingError } from '../remoting/errors';

export const ExitCode = {
  OK: 0,
  /** Runtime failure: port in use, unreachable NameServer, broker error reply. */
  FAILURE: 1,
  /** Bad usage: unknown flag, invalid setting, bad config file. */
  USAGE: 2,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.USAGE);
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps any thrown value to the line we print and the exit code. */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof SettingsError) return { message: err.message, exitCode: ExitCode.USAGE };
  if (err instanceof RemotingError) return { message: err.message, exitCode: ExitCode.FAILURE };
  const code = errnoCode(err);
  const e = err as { message?: unknown; address?: unknown; port?: unknown; path?: unknown } | null;
  if (code === 'EADDRINUSE') {
    const where = e?.port !== undefined ? `${String(e.address ?? '')}:${String(e.port)}` : String(e?.message ?? '');
    return { message: `address already in use: ${where}`, exitCode: ExitCode.FAILURE };
  }
  if (code === 'EACCES' || code === 'EPERM') return { message: `permission denied: ${String(e?.message ?? '')}`, exitCode: ExitCode.FAILURE };
  if (code === 'EADDRNOTAVAIL') return { message: `address not available: ${String(e?.message ?? '')}`, exitCode: ExitCode.FAILURE };
  const message = err instanceof Error ? err.message : String(err);
  return { message, exitCode: ExitCode.FAILURE };
}

/** Prints the error line (and the stack with ROCKETRY_DEBUG) and returns the exit code. */
export function reportError(err: unknown, stderr: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const { message, exitCode } = describeError(err);
  stderr(`rocketry: error: ${message}`);
  if (process.env.ROCKETRY_DEBUG && err instanceof Error && err.stack) stderr(err.stack);
  return exitCode;
}
