import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/logger';
import { DUPLICATE_SIGNAL_WINDOW_MS, installShutdownHooks, shutdownAll, startInOrder, type Service } from './lifecycle';

describe('lifecycle', () => {
  const service = (name: string, log: string[], fail = false): Service => ({
    name,
    shutdown: async () => {
      log.push(`stop ${name}`);
      if (fail) throw new Error('boom');
    },
  });

  it('stops already started services when a later one fails to start', async () => {
    const log: string[] = [];
    await expect(
      startInOrder(
        [
          async () => service('namesrv', log),
          async () => {
            throw new Error('port in use');
          },
        ],
        silentLogger,
      ),
    ).rejects.toThrow('port in use');
    expect(log).toEqual(['stop namesrv']);
  });

  it('stops in reverse order and keeps going after a failure', async () => {
    const log: string[] = [];
    const ok = await shutdownAll([service('namesrv', log), service('broker', log, true)], silentLogger);
    expect(ok).toBe(false);
    expect(log).toEqual(['stop broker', 'stop namesrv']);
  });

  it('a repeated signal within the window is ignored; a later one forces exit 1', async () => {
    const log: string[] = [];
    const exits: number[] = [];
    let clock = 1_000;
    let release!: () => void;
    const slow: Service = { name: 'broker', shutdown: () => new Promise<void>((r) => (release = r)) };
    const stop = installShutdownHooks([service('namesrv', log), slow], {
      logger: silentLogger,
      exit: (c) => exits.push(c),
      installProcessHandlers: false,
      now: () => clock,
    });
    stop('SIGINT');
    clock += DUPLICATE_SIGNAL_WINDOW_MS - 1;
    stop('SIGINT');
    expect(exits).toEqual([]);
    clock += 2;
    stop('SIGINT');
    expect(exits).toEqual([1]);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['stop namesrv']);
    expect(exits).toEqual([1, 0]);
  });
});
