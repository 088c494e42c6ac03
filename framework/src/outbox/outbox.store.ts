/**
 * All SQL of the outbox, per dialect (see outbox-table.ts for the layout).
 *
 * Claiming (one relay pass):
 *   candidates = due PENDING rows + SENDING rows whose lease expired,
 *                minus rows with an older unsent row (PENDING / SENDING / FAILED) of the same sharding key,
 *                oldest first, at most `batchSize`
 *   PostgreSQL, MySQL/MariaDB: SELECT ... FOR UPDATE SKIP LOCKED in a READ COMMITTED transaction, then
 *     UPDATE them to SENDING with this claim's token and a lease, COMMIT. Concurrent relays skip each
 *     other's locked rows and then see them SENDING, so no row is sent by two relays at once (while
 *     its lease lasts).
 *   SQLite (no SKIP LOCKED, one writer at a time): SELECT then UPDATE ... WHERE status still claimable;
 *     only the relay holding the lease row claims (OutboxRelay), so nobody races it.
 * Every later write of a claimed row checks the claim token: a relay whose lease was taken over cannot
 * overwrite the new owner's outcome.
 */
import type { Knex } from 'knex';
import { OUTBOX_DEFAULTS, type OutboxRow, type OutboxStatus } from './outbox-options';
import { checkOutboxTableName, leaseTableName, outboxDialect, type OutboxDialect } from './outbox-table';

/** Column values of one new row. */
export interface NewOutboxRow {
  msgId: string;
  topic: string;
  tags: string | null;
  keys: string | null;
  body: Buffer;
  properties: Record<string, string>;
  delayLevel: number | null;
  shardingKey: string | null;
}

export interface DbRow {
  id: number | string;
  msg_id: string;
  topic: string;
  tags: string | null;
  msg_keys: string | null;
  body: Buffer | Uint8Array | string;
  properties: string;
  delay_level: number | null;
  sharding_key: string | null;
  status: string;
  attempts: number | string;
  next_attempt_at_ms: number | string;
  last_error: string | null;
  claimed_by: string | null;
  locked_until_ms: number | string | null;
  created_at_ms: number | string;
  sent_at_ms: number | string | null;
}

/** A row claimed by a relay pass. */
export interface ClaimedRow extends OutboxRow {
  /** The claim token written to claimed_by. */
  token: string;
  /** The row had been claimed before and that claim's lease expired. */
  reclaimed: boolean;
}

/** JSON with every non-ASCII character escaped: safe in any column character set. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function num(v: number | string | null): number | null {
  return v === null ? null : Number(v);
}

function parseProperties(text: string): Record<string, string> {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) out[k] = String(v);
      return out;
    }
  } catch {
    // fall through: a row written by hand with bad JSON still relays, without properties.
  }
  return {};
}

const STATUSES = new Set<string>(['PENDING', 'SENDING', 'SENT', 'FAILED']);

export function fromDbRow(row: DbRow): OutboxRow {
  const body = Buffer.isBuffer(row.body) ? row.body : typeof row.body === 'string' ? Buffer.from(row.body, 'utf8') : Buffer.from(row.body);
  return {
    id: String(row.id),
    msgId: row.msg_id,
    topic: row.topic,
    tags: row.tags,
    keys: row.msg_keys,
    body,
    properties: parseProperties(row.properties),
    delayLevel: row.delay_level === null ? null : Number(row.delay_level),
    shardingKey: row.sharding_key,
    status: (STATUSES.has(row.status) ? row.status : 'PENDING') as OutboxStatus,
    attempts: Number(row.attempts),
    nextAttemptAtMs: Number(row.next_attempt_at_ms),
    lastError: row.last_error,
    createdAtMs: Number(row.created_at_ms),
    sentAtMs: num(row.sent_at_ms),
    claimedBy: row.claimed_by,
    lockedUntilMs: num(row.locked_until_ms),
  };
}

export class OutboxStore {
  readonly tableName: string;
  readonly leaseTable: string;
  readonly dialect: OutboxDialect;

  constructor(
    readonly knex: Knex,
    tableName: string = OUTBOX_DEFAULTS.tableName,
  ) {
    this.tableName = checkOutboxTableName(tableName);
    this.leaseTable = leaseTableName(tableName);
    this.dialect = outboxDialect(knex);
  }

  // ---------------------------------------------------------------------------------------------
  // Enqueue

  /** Inserts rows through `db` (the caller's transaction, or knex for autocommit), in bounded chunks. */
  async insert(db: Knex | Knex.Transaction, rows: readonly NewOutboxRow[], nowMs: number): Promise<void> {
    const values = rows.map((r) => ({
      msg_id: r.msgId,
      topic: r.topic,
      tags: r.tags,
      msg_keys: r.keys,
      body: r.body,
      properties: asciiJson(r.properties),
      delay_level: r.delayLevel,
      sharding_key: r.shardingKey,
      status: 'PENDING',
      attempts: 0,
      next_attempt_at_ms: nowMs,
      created_at_ms: nowMs,
    }));
    for (let i = 0; i < values.length; i += OUTBOX_DEFAULTS.insertChunkSize) {
      await db(this.tableName).insert(values.slice(i, i + OUTBOX_DEFAULTS.insertChunkSize));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Claim

  private candidates(db: Knex | Knex.Transaction, nowMs: number, limit: number): Knex.QueryBuilder {
    const t = this.tableName;
    return db(`${t} as o`)
      .select('o.*')
      .where((w) => {
        w.where((p) => p.where('o.status', 'PENDING').andWhere('o.next_attempt_at_ms', '<=', nowMs)).orWhere((s) =>
          s.where('o.status', 'SENDING').andWhere('o.locked_until_ms', '<', nowMs),
        );
      })
      .whereNotExists((sub) => {
        // NULL keys never compare equal, so rows without a sharding key are never held back.
        sub.select(db.raw('1')).from(`${t} as p`).whereRaw('p.sharding_key = o.sharding_key').andWhereRaw('p.id < o.id').andWhere('p.status', '<>', 'SENT');
      })
      .orderBy('o.id', 'asc')
      .limit(limit);
  }

  /** Claims up to `limit` rows for `token` until `nowMs + leaseMs`; attempts is incremented. */
  async claim(token: string, nowMs: number, leaseMs: number, limit: number): Promise<ClaimedRow[]> {
    const lockedUntil = nowMs + leaseMs;
    const mark = (db: Knex | Knex.Transaction, ids: Array<number | string>) =>
      db(this.tableName)
        .whereIn('id', ids)
        .andWhere((w) => {
          w.where('status', 'PENDING').orWhere((s) => s.where('status', 'SENDING').andWhere('locked_until_ms', '<', nowMs));
        })
        .update({ status: 'SENDING', claimed_by: token, locked_until_ms: lockedUntil, attempts: db.raw('attempts + 1') });
    let rows: DbRow[];
    if (this.dialect === 'sqlite') {
      rows = (await this.candidates(this.knex, nowMs, limit)) as DbRow[];
      if (rows.length === 0) return [];
      await mark(
        this.knex,
        rows.map((r) => r.id),
      );
    } else {
      rows = await this.knex.transaction(
        async (trx) => {
          const found = (await this.candidates(trx, nowMs, limit).forUpdate().skipLocked()) as DbRow[];
          if (found.length > 0) {
            await mark(
              trx,
              found.map((r) => r.id),
            );
          }
          return found;
        },
        { isolationLevel: 'read committed' },
      );
    }
    return rows.map((r) => ({
      ...fromDbRow(r),
      status: 'SENDING' as const,
      attempts: Number(r.attempts) + 1,
      claimedBy: token,
      lockedUntilMs: lockedUntil,
      token,
      reclaimed: r.status === 'SENDING',
    }));
  }

  /** SENDING → SENT for this claim. False when the claim was lost (another relay owns the row now). */
  async markSent(id: string, token: string, nowMs: number): Promise<boolean> {
    const n = await this.knex(this.tableName)
      .where({ id, claimed_by: token, status: 'SENDING' })
      .update({ status: 'SENT', sent_at_ms: nowMs, locked_until_ms: null, last_error: null });
    return n > 0;
  }

  /** SENDING → PENDING (due at `nextAttemptAtMs`) or FAILED, with the error. False when the claim was lost. */
  async markFailed(id: string, token: string, status: 'PENDING' | 'FAILED', nextAttemptAtMs: number, lastError: string): Promise<boolean> {
    const n = await this.knex(this.tableName)
      .where({ id, claimed_by: token, status: 'SENDING' })
      .update({ status, next_attempt_at_ms: nextAttemptAtMs, last_error: lastError, locked_until_ms: null });
    return n > 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Single-active-relay lease

  /** Takes or renews the lease for `owner`; true when `owner` holds it until `nowMs + leaseMs`. */
  async acquireLease(owner: string, nowMs: number, leaseMs: number): Promise<boolean> {
    await this.knex(this.leaseTable).insert({ name: 'relay', owner: null, expires_at_ms: 0 }).onConflict('name').ignore();
    const n = await this.knex(this.leaseTable)
      .where('name', 'relay')
      .andWhere((w) => w.where('owner', owner).orWhere('expires_at_ms', '<', nowMs))
      .update({ owner, expires_at_ms: nowMs + leaseMs });
    return n > 0;
  }

  /** Gives the lease up (a standby relay takes over at its next pass). */
  async releaseLease(owner: string): Promise<void> {
    await this.knex(this.leaseTable).where({ name: 'relay', owner }).update({ expires_at_ms: 0 });
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection and maintenance

  async get(id: string | number): Promise<OutboxRow | undefined> {
    const row = (await this.knex(this.tableName).where('id', id).first()) as DbRow | undefined;
    return row ? fromDbRow(row) : undefined;
  }

  async findByMsgId(msgId: string): Promise<OutboxRow | undefined> {
    const row = (await this.knex(this.tableName).where('msg_id', msgId).first()) as DbRow | undefined;
    return row ? fromDbRow(row) : undefined;
  }

  async list(status: OutboxStatus, options: { limit?: number; afterId?: string | number; topic?: string } = {}): Promise<OutboxRow[]> {
    let q = this.knex(this.tableName).where('status', status);
    if (options.afterId !== undefined) q = q.andWhere('id', '>', options.afterId);
    if (options.topic !== undefined) q = q.andWhere('topic', options.topic);
    const rows = (await q.orderBy('id', 'asc').limit(Math.max(1, Math.min(options.limit ?? 100, 10_000)))) as DbRow[];
    return rows.map(fromDbRow);
  }

  async counts(): Promise<Record<OutboxStatus, number>> {
    const rows = (await this.knex(this.tableName).select('status').count({ n: '*' }).groupBy('status')) as Array<{ status: string; n: number | string }>;
    const out: Record<OutboxStatus, number> = { PENDING: 0, SENDING: 0, SENT: 0, FAILED: 0 };
    for (const r of rows) if (STATUSES.has(r.status)) out[r.status as OutboxStatus] = Number(r.n);
    return out;
  }

  /** FAILED → PENDING (attempts reset, due now). `ids` undefined = every FAILED row. Returns rows changed. */
  async resubmit(ids: ReadonlyArray<string | number> | undefined, nowMs: number): Promise<number> {
    const update = { status: 'PENDING', attempts: 0, next_attempt_at_ms: nowMs, claimed_by: null, locked_until_ms: null };
    if (ids === undefined) return this.knex(this.tableName).where('status', 'FAILED').update(update);
    let changed = 0;
    for (let i = 0; i < ids.length; i += OUTBOX_DEFAULTS.insertChunkSize) {
      changed += await this.knex(this.tableName)
        .whereIn('id', ids.slice(i, i + OUTBOX_DEFAULTS.insertChunkSize))
        .andWhere('status', 'FAILED')
        .update(update);
    }
    return changed;
  }

  /** Deletes SENT rows sent before `cutoffMs`, in bounded batches. Returns the number deleted. */
  async deleteSentBefore(cutoffMs: number, batchSize: number, maxBatches: number): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < maxBatches; i++) {
      // Select then delete by key: portable (PostgreSQL has no DELETE ... LIMIT, MySQL no LIMIT in IN subqueries).
      const ids = (await this.knex(this.tableName).select('id').where('status', 'SENT').andWhere('sent_at_ms', '<', cutoffMs).limit(batchSize)) as Array<{
        id: number | string;
      }>;
      if (ids.length === 0) break;
      deleted += await this.knex(this.tableName)
        .whereIn(
          'id',
          ids.map((r) => r.id),
        )
        .andWhere('status', 'SENT')
        .del();
      if (ids.length < batchSize) break;
    }
    return deleted;
  }
}
