/**
 * Which transaction instances (half lineages, see transaction-message.util.ts) have been ended, and
 * which are being ended right now. Bounded: the oldest entries are forgotten first (a forgotten one
 * still has its op record, so the check service skips its own half offset as RocketMQ does; only a
 * late END for an older copy could then be applied twice).
 */
import type { TransactionOutcome } from './transaction-message.util';

/** UNKNOWN: rebuilt from an op record that does not say which END wrote it (e.g. a Java broker's). */
export type EndedOutcome = TransactionOutcome | 'UNKNOWN';

/** Covers the op records one check pass reads (DEFAULT_MAX_OP_READ_PER_PASS); ~100 B per entry. */
export const DEFAULT_ENDED_TRANSACTIONS_CAPACITY = 131_072;

export class EndedTransactionRegistry {
  /** Insertion-ordered: the first key is the oldest. */
  private readonly ended = new Map<string, EndedOutcome>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(readonly capacity: number = DEFAULT_ENDED_TRANSACTIONS_CAPACITY) {}

  get size(): number {
    return this.ended.size;
  }

  endedOutcome(key: string): EndedOutcome | undefined {
    return this.ended.get(key);
  }

  /** The in-flight END for this lineage, if any (await it, then look again). */
  pendingEnd(key: string): Promise<void> | undefined {
    return this.pending.get(key);
  }

  /** Marks an END in flight; call the returned function when it is over (whatever the result). */
  begin(key: string): () => void {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    this.pending.set(key, done);
    return () => {
      if (this.pending.get(key) === done) this.pending.delete(key);
      release();
    };
  }

  markEnded(key: string, outcome: EndedOutcome): void {
    this.ended.delete(key);
    this.ended.set(key, outcome);
    while (this.ended.size > this.capacity) {
      const oldest = this.ended.keys().next();
      if (oldest.done) break;
      this.ended.delete(oldest.value);
    }
  }
}
