/**
 * Topic setup shared by suites: ali-ons needs a topic's route in the NameServer before it can send or
 * subscribe (no TBW102 fallback), so create at the broker and wait for the route.
 */
import { waitFor } from './env';
import type { ProtocolProbe, TopicRoute } from './protocol-probe';

/** All 18 delay levels at 1 s, so retries come back quickly. */
export const SHORT_DELAY_LEVELS = Array.from({ length: 18 }, () => '1s').join(' ');

/** Creates `topic` at the broker, then waits until every NameServer in `namesrvAddrs` routes it. */
export async function ensureTopic(
  probe: ProtocolProbe,
  brokerAddr: string,
  namesrvAddrs: string[],
  topic: string,
  queueNums = 4,
  timeoutMs = 15_000,
): Promise<TopicRoute> {
  await probe.createTopic(brokerAddr, topic, queueNums);
  let route: TopicRoute | undefined;
  for (const ns of namesrvAddrs) {
    route = await waitForRoute(probe, ns, topic, (r) => r.queueDatas.some((q) => q.writeQueueNums >= queueNums), timeoutMs);
  }
  return route!;
}

/** Polls GET_ROUTEINFO_BY_TOPIC at one NameServer until `pred` holds. */
export function waitForRoute(
  probe: ProtocolProbe,
  namesrvAddr: string,
  topic: string,
  pred: (r: TopicRoute) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<TopicRoute> {
  return waitFor(
    `route of ${topic} at ${namesrvAddr}`,
    async () => {
      const r = await probe.route(namesrvAddr, topic, 2000);
      return r && pred(r) ? r : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** ali-ons MessageQueue key for a topic, e.g. `[topic="T", brokerName="b", queueId="0"]` — match by topic only. */
export function queuesOfTopic(queueKeys: string[], topic: string): string[] {
  return queueKeys.filter((k) => k.includes(`topic="${topic}"`));
}
