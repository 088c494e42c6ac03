/**
 * Queue locks for orderly consumers (`RebalanceLockManager.java`). A consumer locks the queues it was
 * assigned (LOCK_BATCH_MQ) before consuming them in order and renews every 20 s; a lock lives
 * `lockMaxLiveTimeMs` (60 s) after its last renewal. The holder renews; another client is granted a queue
 * only when the lock is free or expired; only the holder unlocks. Single-threaded, so no mutex is needed.
 */
import type { Clock } from '../../common/clock';
import { systemClock } from '../../common/clock';
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';

/** `MessageQueue.java` as it travels in lock bodies. */
export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

interface LockEntry {
  clientId: string;
  lastUpdateTimestamp: number;
}

export interface RebalanceLockManagerOptions {
  clock?: Clock;
  logger?: Logger;
  /** `rocketmq.broker.rebalance.lockMaxLiveTime`. Default 60000. */
  lockMaxLiveTimeMs?: number;
  maxGroups?: number;
  maxLocksPerGroup?: number;
}

export const DEFAULT_REBALANCE_LOCK_MAX_LIVE_TIME_MS = 60_000;
export const DEFAULT_MAX_LOCK_GROUPS = 100_000;
export const DEFAULT_MAX_LOCKS_PER_GROUP = 100_000;

const mqKey = (mq: MessageQueue): string => `${mq.topic}@${mq.brokerName}@${mq.queueId}`;

export class RebalanceLockManager {
  /** group → mqKey → entry. */
  private readonly table = new Map<string, Map<string, LockEntry>>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly lockMaxLiveTimeMs: number;
  private readonly maxGroups: number;
  private readonly maxLocksPerGroup: number;

  constructor(opts: RebalanceLockManagerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.lockMaxLiveTimeMs = opts.lockMaxLiveTimeMs ?? DEFAULT_REBALANCE_LOCK_MAX_LIVE_TIME_MS;
    this.maxGroups = opts.maxGroups ?? DEFAULT_MAX_LOCK_GROUPS;
    this.maxLocksPerGroup = opts.maxLocksPerGroup ?? DEFAULT_MAX_LOCKS_PER_GROUP;
  }

  /** Locks (or renews) what it can for `clientId`; returns the queues this client now holds. */
  tryLockBatch(group: string, mqs: readonly MessageQueue[], clientId: string): MessageQueue[] {
    const now = this.clock.now();
    const locked: MessageQueue[] = [];
    let groupTable = this.table.get(group);
    for (const mq of mqs) {
      const key = mqKey(mq);
      const entry = groupTable?.get(key);
      if (entry) {
        if (entry.clientId === clientId || this.isExpired(entry, now)) {
          if (entry.clientId !== clientId) {
            this.logger.warn({ group, mq: key, oldClientId: entry.clientId, clientId }, 'queue lock expired, granted to new client');
          }
          entry.clientId = clientId;
          entry.lastUpdateTimestamp = now;
          locked.push(mq);
        } else {
          this.logger.debug({ group, mq: key, holder: entry.clientId, clientId }, 'queue locked by another client');
        }
        continue;
      }
      if (!groupTable) {
        if (this.table.size >= this.maxGroups && this.pruneExpired() === 0 && this.table.size >= this.maxGroups) continue;
        groupTable = new Map();
        this.table.set(group, groupTable);
      }
      if (groupTable.size >= this.maxLocksPerGroup && this.pruneGroup(groupTable, now) === 0) continue;
      groupTable.set(key, { clientId, lastUpdateTimestamp: now });
      this.logger.info({ group, mq: key, clientId }, 'queue locked');
      locked.push(mq);
    }
    return locked;
  }

  /** Releases the queues that `clientId` holds; locks of other clients are left alone. Returns the count released. */
  unlockBatch(group: string, mqs: readonly MessageQueue[], clientId: string): number {
    const groupTable = this.table.get(group);
    if (!groupTable) return 0;
    let released = 0;
    for (const mq of mqs) {
      const key = mqKey(mq);
      const entry = groupTable.get(key);
      if (!entry) continue;
      if (entry.clientId === clientId) {
        groupTable.delete(key);
        released++;
      } else {
        this.logger.warn({ group, mq: key, holder: entry.clientId, clientId }, 'unlock refused: queue held by another client');
      }
    }
    if (groupTable.size === 0) this.table.delete(group);
    return released;
  }

  /** True when `clientId` holds an unexpired lock on the queue. */
  isLockedBy(group: string, mq: MessageQueue, clientId: string): boolean {
    const entry = this.table.get(group)?.get(mqKey(mq));
    return !!entry && entry.clientId === clientId && !this.isExpired(entry, this.clock.now());
  }

  /** Holder of an unexpired lock, if any. */
  lockHolder(group: string, mq: MessageQueue): string | undefined {
    const entry = this.table.get(group)?.get(mqKey(mq));
    return entry && !this.isExpired(entry, this.clock.now()) ? entry.clientId : undefined;
  }

  /** Drops expired entries (they grant nothing); returns how many were dropped. */
  pruneExpired(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const [group, groupTable] of [...this.table]) {
      dropped += this.pruneGroup(groupTable, now);
      if (groupTable.size === 0) this.table.delete(group);
    }
    return dropped;
  }

  private pruneGroup(groupTable: Map<string, LockEntry>, now: number): number {
    let dropped = 0;
    for (const [key, entry] of [...groupTable]) {
      if (this.isExpired(entry, now)) {
        groupTable.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  private isExpired(entry: LockEntry, now: number): boolean {
    return now - entry.lastUpdateTimestamp > this.lockMaxLiveTimeMs;
  }
}
