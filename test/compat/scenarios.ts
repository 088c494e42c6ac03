/**
 * The compatibility scenario list and the contract every client adapter implements. The same list runs
 * in every cell (broker x client); a client that lacks a feature declares the scenario unsupported, and
 * the report lists it as such (never as a pass).
 */
import { waitFor } from '../helpers/env';
import type { BrokerUnderTest } from './brokers';

export const SCENARIOS = [
  'send-sync',
  'send-async',
  'send-oneway',
  'send-batch',
  'orderly',
  'clustering',
  'broadcasting',
  'retry-dlq',
  'delay',
  'transaction',
  'query-key',
  'query-id',
  'offsets-restart',
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

/** What each scenario checks (the same in every driver). */
export const SCENARIO_DESCRIPTIONS: Record<ScenarioName, string> = {
  'send-sync': 'sync send (TagA/B/C, keys) to an auto-created topic; a "TagA || TagB" consumer gets exactly 6 with msgId/offsetMsgId/keys/queueOffset intact',
  'send-async': '20 async sends, all callbacks SEND_OK, all consumed',
  'send-oneway': '10 oneway sends, all consumed',
  'send-batch': 'one batch of 10: comma-joined ids, one queue, consecutive offsets, all consumed',
  orderly: '3 orders x 8 steps sent by selector/sharding key; an orderly consumer sees each order in sequence, one queue never consumed concurrently',
  clustering: 'two consumers of one group split the queues: every message once, both busy',
  broadcasting: 'two broadcasting consumers each get every message',
  'retry-dlq': 'maxReconsumeTimes=2 and a failing listener: deliveries with reconsumeTimes 0,1,2 under the original topic, then the message is in %DLQ%<group>',
  delay: 'delay level 2 (2 s) holds messages back >= 1.5 s, delivered under the original topic',
  transaction: 'commit -> delivered, rollback -> never, unknown -> check-back with the real topic/body -> commit -> delivered',
  'query-key': 'QUERY_MESSAGE by key finds exactly the 3 messages with that key',
  'query-id': 'view by offset msgId and by UNIQ_KEY return the sent message',
  'offsets-restart': 'consume 5, shut down, the offsets committed on the broker, restart it, send 5 more: the same group gets only the 5 new ones',
};

export type ScenarioOutcome = { ok: true } | { ok: false; error: string };

export interface ScenarioContext {
  readonly broker: BrokerUnderTest;
  /** Unique per cell and scenario. */
  readonly topic: string;
  readonly group: string;
  log(line: string): void;
}

export interface ClientUnderTest {
  /** Column name in the report, e.g. `java-5.3.3`. */
  readonly name: string;
  readonly supported: ReadonlySet<ScenarioName>;
  /** Whether this client can send to a topic the NameServer does not know yet (TBW102 auto-create). */
  readonly autoCreatesTopics: boolean;
  run(scenario: ScenarioName, ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

export const ALL_SCENARIOS: ReadonlySet<ScenarioName> = new Set(SCENARIOS);

/** Bounded run of a scenario: a hung client becomes a failure, not a hung matrix. */
export async function withTimeout(ms: number, what: string, fn: () => Promise<ScenarioOutcome>): Promise<ScenarioOutcome> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<ScenarioOutcome>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, error: `${what} timed out after ${ms} ms` }), ms);
      }),
    ]);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

const COMMITTED_WAIT_MS = 10_000;

/**
 * offsets-restart in every adapter: phase 1, then the group's offsets must be committed on the broker
 * (lag 0), then a broker restart, then phase 2. Checking the broker between the phases tells a commit
 * that never arrived (the client's doing) from offsets the restart lost (the broker's).
 */
export async function runAcrossRestart(ctx: ScenarioContext, runPhase: (phase: '1' | '2') => Promise<ScenarioOutcome>): Promise<ScenarioOutcome> {
  const first = await runPhase('1');
  if (!first.ok) return { ok: false, error: `phase 1: ${first.error}` };
  let lag = -1;
  try {
    await waitFor(`${ctx.group}'s offsets on the broker`, async () => (lag = await ctx.broker.consumerLag(ctx.topic, ctx.group)) === 0, {
      timeoutMs: COMMITTED_WAIT_MS,
      intervalMs: 200,
    });
  } catch {
    return { ok: false, error: `phase 1: ${lag} consumed messages not committed on the broker after ${COMMITTED_WAIT_MS} ms` };
  }
  await ctx.broker.restartBroker();
  const second = await runPhase('2');
  return second.ok ? second : { ok: false, error: `phase 2: ${second.error}` };
}
