/**
 * Sample 01: quickstart. A plain Node app wired with inversify and @rocketry/inversify:
 * RocketTemplate sends a few greetings, a @RocketListener method receives them.
 *
 *   node --import tsx samples/01-quickstart/main.ts        (from the repository root)
 *
 * With no ROCKETMQ_NAME_SERVER the sample starts an embedded NameServer + Broker in this process
 * (free ports, a temporary directory deleted at the end). Set ROCKETMQ_NAME_SERVER=127.0.0.1:9876
 * to use a running `rocketry start` (or an Apache RocketMQ cluster) instead.
 * SAMPLE_COUNT sets how many greetings are sent (default 3).
 *
 * Prints one line per send and per receipt, then `quickstart: sent N, received N` and exits 0
 * (exit 1 if not every greeting arrived within SAMPLE_TIMEOUT_MS, default 20000).
 */
import 'reflect-metadata';
import { Container, inject, injectable } from 'inversify';
import { createRocketryContainerModule, Rocketry, RocketListener, RocketTemplate, startEmbeddedBroker, type MessageExt } from '@rocketry/inversify';

const TOPIC = 'Greetings';
const count = Number(process.env.SAMPLE_COUNT ?? 3);
const timeoutMs = Number(process.env.SAMPLE_TIMEOUT_MS ?? 20_000);

interface Greeting {
  n: number;
  text: string;
}

/** Collects what the listener received, so main() can wait for it. Bound as a singleton. */
@injectable()
class Inbox {
  readonly received: Greeting[] = [];
  private waiters: Array<() => void> = [];
  add(g: Greeting): void {
    this.received.push(g);
    for (const w of this.waiters.splice(0)) w();
  }
  async waitFor(n: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.received.length < n && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
    return this.received.length >= n;
  }
}

@injectable()
class GreetingListener {
  // Explicit tokens: tsx/esbuild emits no decorator metadata (design:paramtypes), so inversify
  // cannot infer constructor parameter types.
  constructor(@inject(Inbox) private readonly inbox: Inbox) {}

  // Returning = consumed; throwing = retried later (up to 16 times, then %DLQ%quickstart-cg).
  @RocketListener({ topic: TOPIC, group: 'quickstart-cg', selector: 'hello', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
  onGreeting(greeting: Greeting, msg: MessageExt): void {
    console.log(`received #${greeting.n} "${greeting.text}" msgId=${msg.msgId} queue=${msg.queueId}`);
    this.inbox.add(greeting);
  }
}

async function main(): Promise<number> {
  const external = process.env.ROCKETMQ_NAME_SERVER || undefined;
  const broker = external ? undefined : await startEmbeddedBroker({ topics: [TOPIC] });
  const nameServer = external ?? broker!.namesrvAddr;
  console.log(`name server ${nameServer}${broker ? ' (embedded broker)' : ''}`);

  const container = new Container();
  container.load(createRocketryContainerModule({ nameServer, producer: { group: 'quickstart-pg' } }));
  container.bind(Inbox).toSelf().inSingletonScope();
  container.bind(GreetingListener).toSelf().inSingletonScope();

  const rocketry = container.get(Rocketry);
  try {
    // Discovers @RocketListener classes bound in the container, starts the producer, then the consumers.
    await rocketry.start(container);
    const template = container.get(RocketTemplate);
    for (let n = 1; n <= count; n++) {
      const r = await template.syncSend(`${TOPIC}:hello`, { n, text: `hello ${n}` } satisfies Greeting, { keys: `greeting-${n}` });
      console.log(`sent #${n} ${r.status} msgId=${r.msgId}`);
    }
    const ok = await container.get(Inbox).waitFor(count, timeoutMs);
    console.log(`quickstart: sent ${count}, received ${container.get(Inbox).received.length}`);
    return ok ? 0 : 1;
  } finally {
    // Graceful: stop pulling, drain handlers, persist offsets, close consumers and the producer.
    await rocketry.stop();
    await broker?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
