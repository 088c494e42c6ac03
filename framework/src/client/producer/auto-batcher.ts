/**
 * RocketMQ 5's `autoBatch` for `sendAsync`: concurrent async sends to one topic are coalesced into
 * SEND_BATCH_MESSAGE requests, and each caller still gets its own SendResult (its UNIQ_KEY, its offset
 * msgId, base queue offset + index). With `batchMaxDelayMs` 0 (our default; Java waits 10 ms) a batch
 * holds what one event-loop turn sends: those requests would have shared one socket write anyway, so
 * no latency is added. (Closing it after each callback instead, with nextTick, measured 5-10% slower:
 * replies that arrive in several reads of one turn then make several smaller batches.) A batch fails or succeeds as a whole, retried like any async send.
 */
/** Rough per-message bytes beside the body in a batch entry (header fields + properties). */
const ENTRY_OVERHEAD_BYTES = 128;

export interface AutoBatchSender<M, R> {
  sendSingle(msg: M): Promise<R>;
  /** Sends the batch and returns each message's own result, in order. */
  sendBatch(msgs: M[]): Promise<R[]>;
}

interface Entry<M, R> {
  msg: M;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

interface PendingBatch<M, R> {
  entries: Array<Entry<M, R>>;
  bytes: number;
  cancelTimer: () => void;
}

export class AutoBatcher<M, R> {
  /** One open batch per key (messages that may share a request): bounded by `maxBytes` each. */
  private readonly open = new Map<string, PendingBatch<M, R>>();

  constructor(
    private readonly sender: AutoBatchSender<M, R>,
    private readonly maxBytes: number,
    private readonly maxDelayMs: number,
  ) {}

  /** Queues `msg` (already validated; `bodyBytes` is its body size) into the open batch of `key`. */
  add(key: string, msg: M, bodyBytes: number): Promise<R> {
    const bytes = bodyBytes + ENTRY_OVERHEAD_BYTES;
    let batch = this.open.get(key);
    if (batch && batch.bytes + bytes > this.maxBytes) {
      this.flush(key);
      batch = undefined;
    }
    if (!batch) {
      batch = { entries: [], bytes: 0, cancelTimer: this.schedule(key) };
      this.open.set(key, batch);
    }
    const entries = batch.entries;
    const promise = new Promise<R>((resolve, reject) => entries.push({ msg, resolve, reject }));
    batch.bytes += bytes;
    if (batch.bytes >= this.maxBytes) this.flush(key);
    return promise;
  }

  /** Sends every open batch now (shutdown). */
  flushAll(): void {
    for (const key of [...this.open.keys()]) this.flush(key);
  }

  private schedule(key: string): () => void {
    if (this.maxDelayMs === 0) {
      const immediate = setImmediate(() => this.flush(key));
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.flush(key), this.maxDelayMs);
    return () => clearTimeout(timer);
  }

  private flush(key: string): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    batch.cancelTimer();
    const { entries } = batch;
    if (entries.length === 1) {
      const only = entries[0]!;
      this.sender.sendSingle(only.msg).then(only.resolve, only.reject);
      return;
    }
    this.sender.sendBatch(entries.map((e) => e.msg)).then(
      (results) => entries.forEach((e, i) => e.resolve(results[i]!)),
      (err: unknown) => entries.forEach((e) => e.reject(err)),
    );
  }
}
