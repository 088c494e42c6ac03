/**
 * `createDlqAdmin({ namesrvAddr })`: list, inspect, replay and purge `%DLQ%<group>` topics from code.
 * The same implementation backs `rocketry admin dlqList | dlqInspect | dlqReplay | dlqPurge`
 * (broker/src/cli/commands/dlq-admin.ts, where "purge" is explained: an admin-group offset moves past
 * the messages; RocketMQ deletes nothing before retention). Failures surface as MQClientError.
 */
import { CliError, DlqAdmin, type DeadLetter, type DlqGroupSummary, type PurgeResult, type ReplayResult } from '@rocketry/broker';
import { parseNamesrvAddr } from '@rocketry/broker';
import { MQClientError } from '../client/errors';

export type { DeadLetter, DlqGroupSummary, DlqQueueState, PurgeResult, ReplayOutcome, ReplayResult } from '@rocketry/broker';
export { DLQ_ADMIN_GROUP } from '@rocketry/broker';

export interface DlqAdminOptions {
  /** NameServer list `host:port;host:port`. */
  namesrvAddr: string;
  /** Per-request timeout. @defaultValue 5_000 */
  timeoutMs?: number;
}

export interface DlqAdminApi {
  /** Groups that have a DLQ topic. */
  groups(): Promise<string[]>;
  /** One group (or every DLQ group): count of messages not purged and the first `limit` (default 100). */
  list(opts?: { group?: string; limit?: number }): Promise<DlqGroupSummary[]>;
  /** One dead letter (by UNIQ_KEY, offset id or original offset id) with its recorded failure reason. */
  inspect(group: string, msgId: string): Promise<DeadLetter>;
  /** Sends dead letters (all, or `msgId`) back to their original topic; `purge` hides the replayed ones afterwards. */
  replay(group: string, opts?: { msgId?: string; purge?: boolean }): Promise<ReplayResult>;
  /** Hides every current dead letter of the group from these tools (advances the admin offsets). */
  purge(group: string): Promise<PurgeResult>;
  close(): void;
}

function wrap<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof CliError) throw new MQClientError(/cannot reach/.test(err.message) ? 'CONNECT_FAILED' : 'BROKER_ERROR', err.message, { cause: err });
    throw err;
  });
}

export function createDlqAdmin(options: DlqAdminOptions): DlqAdminApi {
  let addrs: string[];
  try {
    addrs = parseNamesrvAddr(options.namesrvAddr);
  } catch (err) {
    throw new MQClientError('ILLEGAL_ARGUMENT', `namesrvAddr: ${(err as Error).message}`, { cause: err });
  }
  const admin = DlqAdmin.connect(addrs, options.timeoutMs);
  return {
    groups: () => wrap(admin.groups()),
    list: (opts) => wrap(admin.list(opts)),
    inspect: (group, msgId) => wrap(admin.inspect(group, msgId)),
    replay: (group, opts) => wrap(admin.replay(group, opts)),
    purge: (group) => wrap(admin.purge(group)),
    close: () => admin.close(),
  };
}
