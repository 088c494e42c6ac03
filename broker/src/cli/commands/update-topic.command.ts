/** `admin updateTopic`: UPDATE_AND_CREATE_TOPIC to one broker (-b) or every master of a cluster (-c). */
import { PermName, TopicNames, validateTopicName } from '../../protocol/message-const';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { AdminClient, masterAddresses } from '../admin-client';
import { CliError, usageError } from '../cli-error';
import type { Output } from '../output';

export interface UpdateTopicOptions {
  topic: string;
  brokerAddr?: string;
  clusterName?: string;
  /** mqadmin defaults: 8 / 8 / 6 (RW). */
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  order: boolean;
  json?: boolean;
}

export function validateUpdateTopic(opts: UpdateTopicOptions): void {
  const bad = validateTopicName(opts.topic);
  if (bad) throw usageError(`-t: ${bad}`);
  if ((opts.brokerAddr === undefined) === (opts.clusterName === undefined)) throw usageError('give exactly one of -b <broker address> or -c <cluster name>');
  for (const [flag, n] of [['-r', opts.readQueueNums], ['-w', opts.writeQueueNums]] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw usageError(`${flag} must be an integer in [1, 1024], got ${n}`);
  }
  const validPerm = [PermName.READ, PermName.WRITE, PermName.READ | PermName.WRITE, PermName.READ | PermName.WRITE | PermName.INHERIT];
  if (!validPerm.includes(opts.perm)) throw usageError(`-p must be 2 (W), 4 (R), 6 (RW) or 7, got ${opts.perm}`);
}

export async function updateTopicCommand(admin: AdminClient, opts: UpdateTopicOptions, out: Output): Promise<void> {
  validateUpdateTopic(opts);
  let targets: string[];
  if (opts.brokerAddr !== undefined) {
    targets = [opts.brokerAddr];
  } else {
    const info = await admin.clusterInfo();
    const names = info.clusterAddrTable[opts.clusterName!];
    if (!names) throw new CliError(`cluster "${opts.clusterName}" not found in the NameServer (known: ${Object.keys(info.clusterAddrTable).sort().join(', ') || 'none'})`);
    const brokers = names.map((n) => info.brokerAddrTable[n]).filter((b) => b !== undefined);
    targets = masterAddresses(brokers).map((m) => m.addr);
    if (targets.length === 0) throw new CliError(`cluster "${opts.clusterName}" has no master broker`);
  }
  const header = {
    topic: opts.topic,
    defaultTopic: TopicNames.AUTO_CREATE_TOPIC_KEY,
    readQueueNums: opts.readQueueNums,
    writeQueueNums: opts.writeQueueNums,
    perm: opts.perm,
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: 0,
    order: opts.order,
  };
  const results: Array<{ broker: string; ok: true }> = [];
  for (const addr of targets) {
    await admin.broker(addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, header));
    results.push({ broker: addr, ok: true });
    if (!opts.json) out.line(`create topic to ${addr} success.`);
  }
  const config = { topicName: opts.topic, readQueueNums: opts.readQueueNums, writeQueueNums: opts.writeQueueNums, perm: opts.perm, order: opts.order };
  if (opts.json) out.json({ topicConfig: config, brokers: results.map((r) => r.broker) });
  else out.line(`TopicConfig [topicName=${config.topicName}, readQueueNums=${config.readQueueNums}, writeQueueNums=${config.writeQueueNums}, perm=${permText(config.perm)}, order=${config.order}]`);
}

export function permText(perm: number): string {
  return `${perm & PermName.READ ? 'R' : '-'}${perm & PermName.WRITE ? 'W' : '-'}${perm & PermName.INHERIT ? 'X' : '-'}`;
}
