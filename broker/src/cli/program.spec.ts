import { describe, expect, it } from 'vitest';
import { memoryOutput } from './output';
import { runCli } from './program';

async function run(...args: string[]) {
  const out = memoryOutput();
  const err: string[] = [];
  const outcome = await runCli(['node', 'rocketry', ...args], { out, err: (l) => err.push(l) });
  return { outcome, out: out.text(), err: err.join('\n') };
}

describe('runCli (in process)', () => {
  it('prints help and exits 2 without a command', async () => {
    const r = await run();
    expect(r.outcome).toBe(2);
    expect(r.out).toMatch(/Usage: rocketry/);
    expect(r.out).toMatch(/start \[options\]/);
  });

  it('--help exits 0', async () => {
    const r = await run('admin', 'updateTopic', '--help');
    expect(r.outcome).toBe(0);
    expect(r.out).toMatch(/-r, --readQueueNums <n>/);
  });

  it('rejects bad flag values with usage errors', async () => {
    const bad = await run('admin', 'updateTopic', '-c', 'C', '-t', 'T', '-r', 'abc');
    expect(bad.outcome).toBe(2);
    expect(bad.err).toMatch(/^rocketry: error: option '-r, --readQueueNums <n>' argument 'abc' is invalid\. -r must be an integer/);
    const flush = await run('start', '--flush', 'maybe');
    expect(flush.outcome).toBe(2);
    expect(flush.err).toMatch(/argument 'maybe' is invalid\. Allowed choices are async, sync/);
    const unknown = await run('nonsense');
    expect(unknown.outcome).toBe(2);
    expect(unknown.err).toMatch(/unknown command 'nonsense'/);
  });

  it('accepts mqadmin command names in lower case', async () => {
    const r = await run('admin', 'updatetopic', '-t', 'T');
    expect(r.outcome).toBe(2);
    expect(r.err).toBe('rocketry: error: give exactly one of -b <broker address> or -c <cluster name>');
  });

  it('reports an invalid -n list before connecting', async () => {
    const r = await run('admin', 'topicList', '-n', 'not-an-address');
    expect(r.outcome).toBe(2);
    expect(r.err).toMatch(/-n must be a NameServer address list/);
  });
});
