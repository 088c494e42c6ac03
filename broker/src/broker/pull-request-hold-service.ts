/**
 * Long polling (`PullRequestHoldService.java`): a PULL_MESSAGE that found nothing is parked under
 * `topic@queueId` instead of answered. It is re-run (with suspension disallowed) and answered through
 * `channel.write` when
 *   - the store dispatches a message to that queue at or beyond the request's offset that passes the
 *     request's tag filter (woken on the next event-loop turn, so one re-run sees a whole dispatched batch), or
 *   - its hold time runs out, or
 *   - the periodic check finds the queue's max offset beyond the request's offset (belt and braces).
 * One interval timer serves all held requests (no timer per request). Requests of closed channels are
 * dropped. The table is bounded: past `maxHeldRequests`, `hold` refuses and the caller answers at once.
 */
import type { Clock } from '../common/clock';
import { systemClock } from '../common/clock';
import type { Logger } from '../common/logger';
import { silentLogger } from '../common/logger';
import type { RemotingCommand } from '../protocol/remoting-command';
import type { Channel } from '../remoting/types';
import type { DispatchEvent, MessageFilter } from '../store/types';

export interface HeldPullRequest {
  readonly request: RemotingCommand;
  readonly channel: Channel;
  readonly topic: string;
  readonly queueId: number;
  /** The logical offset the consumer asked for; any message at or beyond it wakes the request. */
  readonly pullFromThisOffset: number;
  /** Epoch ms (Clock) after which the request is answered anyway. */
  readonly deadline: number;
  readonly filter?: MessageFilter;
}

/** Re-runs a pull with suspension disallowed; the returned reply (if any) is written to the channel. */
export type PullRerun = (request: RemotingCommand, channel: Channel) => RemotingCommand | null;

export interface PullRequestHoldServiceOptions {
  /** Max offset of a queue, for the periodic check. */
  maxOffsetOf: (topic: string, queueId: number) => number;
  rerun: PullRerun;
  /** Period of the single sweep timer (timeouts are answered within this of their deadline). Default 1000. */
  checkIntervalMs?: number;
  /** Bound on held requests over all queues. Default 100000. */
  maxHeldRequests?: number;
  clock?: Clock;
  logger?: Logger;
}

export const DEFAULT_HOLD_CHECK_INTERVAL_MS = 1000;
export const DEFAULT_MAX_HELD_PULL_REQUESTS = 100_000;

const keyOf = (topic: string, queueId: number): string => `${topic}@${queueId}`;

export class PullRequestHoldService {
  private readonly table = new Map<string, HeldPullRequest[]>();
  private held = 0;
  /** Requests woken by dispatch events, answered together on the next turn. */
  private woken: HeldPullRequest[] = [];
  private wakeScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly checkIntervalMs: number;
  private readonly maxHeldRequests: number;

  constructor(private readonly opts: PullRequestHoldServiceOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.checkIntervalMs = opts.checkIntervalMs ?? DEFAULT_HOLD_CHECK_INTERVAL_MS;
    this.maxHeldRequests = opts.maxHeldRequests ?? DEFAULT_MAX_HELD_PULL_REQUESTS;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.checkHoldRequests(), this.checkIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and answers every held request once (so clients re-pull elsewhere or later). */
  shutdown(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const all: HeldPullRequest[] = [];
    for (const list of this.table.values()) all.push(...list);
    this.table.clear();
    this.held = 0;
    all.push(...this.woken);
    this.woken = [];
    for (const r of all) this.execute(r);
  }

  get heldCount(): number {
    return this.held;
  }

  /** Parks a request; false when the table is full or the service stopped (the caller answers at once). */
  hold(req: HeldPullRequest): boolean {
    if (this.stopped) return false;
    if (this.held >= this.maxHeldRequests) {
      this.logger.warn({ held: this.held }, 'pull hold table full, answering at once');
      return false;
    }
    const key = keyOf(req.topic, req.queueId);
    let list = this.table.get(key);
    if (!list) {
      list = [];
      this.table.set(key, list);
    }
    list.push(req);
    this.held++;
    return true;
  }

  /** Store dispatch listener: wakes the requests of that queue that this message satisfies. */
  readonly onDispatch = (event: DispatchEvent): void => {
    if (this.held === 0) return;
    const key = keyOf(event.topic, event.queueId);
    const list = this.table.get(key);
    if (!list) return;
    const keep: HeldPullRequest[] = [];
    for (const r of list) {
      if (r.channel.closed) {
        this.held--;
        continue;
      }
      if (event.queueOffset >= r.pullFromThisOffset && matches(r.filter, event)) {
        this.held--;
        this.woken.push(r);
      } else {
        keep.push(r);
      }
    }
    this.replace(key, keep);
    if (this.woken.length > 0 && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.flushWoken);
    }
  };

  /** Drops the held requests of a closed channel. */
  onChannelClose(channel: Channel): void {
    if (this.held === 0) return;
    for (const [key, list] of [...this.table]) {
      const keep = list.filter((r) => r.channel !== channel);
      this.held -= list.length - keep.length;
      this.replace(key, keep);
    }
  }

  /** The periodic sweep: answers timed-out requests and requests whose queue grew. */
  checkHoldRequests(): void {
    if (this.held === 0) return;
    const now = this.clock.now();
    const due: HeldPullRequest[] = [];
    for (const [key, list] of [...this.table]) {
      const first = list[0];
      if (!first) {
        this.table.delete(key);
        continue;
      }
      let maxOffset: number;
      try {
        maxOffset = this.opts.maxOffsetOf(first.topic, first.queueId);
      } catch {
        maxOffset = -1;
      }
      const keep: HeldPullRequest[] = [];
      for (const r of list) {
        if (r.channel.closed) {
          this.held--;
        } else if (now >= r.deadline || maxOffset > r.pullFromThisOffset) {
          this.held--;
          due.push(r);
        } else {
          keep.push(r);
        }
      }
      this.replace(key, keep);
    }
    for (const r of due) this.execute(r);
  }

  private readonly flushWoken = (): void => {
    this.wakeScheduled = false;
    const batch = this.woken;
    this.woken = [];
    for (const r of batch) this.execute(r);
  };

  private replace(key: string, keep: HeldPullRequest[]): void {
    if (keep.length === 0) this.table.delete(key);
    else this.table.set(key, keep);
  }

  private execute(r: HeldPullRequest): void {
    if (r.channel.closed) return;
    try {
      const response = this.opts.rerun(r.request, r.channel);
      if (response) r.channel.write(response);
    } catch (err) {
      this.logger.error({ err, topic: r.topic, queueId: r.queueId }, 'held pull request failed on wake-up');
    }
  }
}

function matches(filter: MessageFilter | undefined, event: DispatchEvent): boolean {
  if (!filter) return true;
  if (!filter.isMatchedByConsumeQueue(event.tagsCode)) return false;
  return filter.isMatchedByCommitLog ? filter.isMatchedByCommitLog(event.properties) : true;
}
