/**
 * What mqadmin-style commands need from the cluster: NameServer queries (with failover across the
 * `-n` list) and broker calls, each turning a non-SUCCESS reply into one readable CliError.
 * Bodies are read with the protocol's decoders, which accept fastjson's dialect (unquoted integer
 * keys, object keys) that Apache RocketMQ writes.
 */
import { parseNamesrvAddr, SettingsError } from '../config';
import { RequestCode, requestCodeName } from '../protocol/request-code';
import { ResponseCode, responseCodeName } from '../protocol/response-code';
import {
  BodyError,
  type BrokerData,
  type ClusterInfo,
  decodeClusterInfo,
  decodeTopicList,
  masterAddress,
  parseLenientJson,
  readTopicRouteData,
  type TopicRouteData,
} from '../protocol/bodies';
import { createRequest, type RemotingCommand } from '../protocol/remoting-command';
import { RemotingError } from '../remoting/errors';
import { invokeNamesrv, RemotingClient } from '../remoting/remoting-client';
import { CliError, usageError } from './cli-error';

export const DEFAULT_ADMIN_TIMEOUT_MS = 5_000;
/** mqadmin reads NAMESRV_ADDR when -n is absent; so do we, then fall back to the local default. */
export const DEFAULT_NAMESRV_ADDR = '127.0.0.1:9876';

export function resolveNamesrvList(flag: string | undefined, env = process.env.NAMESRV_ADDR): string[] {
  const text = flag ?? env ?? DEFAULT_NAMESRV_ADDR;
  try {
    const list = parseNamesrvAddr(text);
    if (list.length === 0) throw new SettingsError('empty');
    return list;
  } catch {
    throw usageError(`-n must be a NameServer address list like 127.0.0.1:9876;127.0.0.1:9877, got "${text}"`);
  }
}

/** A route as the CLI uses it: decoded, plus the body as received for `topicRoute --json`. */
export interface TopicRoute extends TopicRouteData {
  raw: unknown;
}

/**
 * Decodes a reply body with a protocol decoder. The one place where the protocol's BodyError
 * becomes a readable CliError.
 */
export function decodeReply<T>(body: Buffer | undefined, what: string, decode: (body: Buffer) => T): T {
  if (!body || body.length === 0) throw new CliError(`empty ${what} in reply`);
  try {
    return decode(body);
  } catch (err) {
    if (err instanceof BodyError) throw new CliError(`malformed ${what} in reply: ${err.message}`);
    throw err;
  }
}

export function decodeTopicRoute(body: Buffer | undefined): TopicRoute {
  return decodeReply(body, 'TopicRouteData', (b) => {
    const raw = parseLenientJson(b);
    return { ...readTopicRouteData(raw), raw };
  });
}

/** The master (brokerId 0) of each broker, sorted by broker name. */
export function masterAddresses(brokers: readonly BrokerData[]): Array<{ brokerName: string; addr: string }> {
  const out: Array<{ brokerName: string; addr: string }> = [];
  for (const b of brokers) {
    const addr = masterAddress(b);
    if (addr) out.push({ brokerName: b.brokerName, addr });
  }
  return out.sort((a, b) => a.brokerName.localeCompare(b.brokerName));
}

export class AdminClient {
  private readonly client: RemotingClient;

  constructor(
    readonly namesrvAddrs: string[],
    private readonly timeoutMs = DEFAULT_ADMIN_TIMEOUT_MS,
  ) {
    this.client = new RemotingClient({ connectTimeoutMs: Math.min(timeoutMs, 3_000) });
  }

  close(): void {
    this.client.close();
  }

  /** Any NameServer request; non-SUCCESS replies are returned (callers decide). */
  async namesrvRaw(cmd: RemotingCommand): Promise<RemotingCommand> {
    try {
      return await invokeNamesrv(this.client, this.namesrvAddrs, cmd, this.timeoutMs);
    } catch (err) {
      if (err instanceof RemotingError) {
        throw new CliError(`cannot reach NameServer ${this.namesrvAddrs.join(';')}: ${err.message}`);
      }
      throw err;
    }
  }

  /** A broker request that must succeed (or answer one of `accept`). */
  async broker(addr: string, cmd: RemotingCommand, accept: readonly number[] = []): Promise<RemotingCommand> {
    let reply: RemotingCommand;
    try {
      reply = await this.client.invoke(addr, cmd, this.timeoutMs);
    } catch (err) {
      if (err instanceof RemotingError) throw new CliError(`cannot reach broker ${addr}: ${err.message}`);
      throw err;
    }
    if (reply.code !== ResponseCode.SUCCESS && !accept.includes(reply.code)) throw replyError(`broker ${addr}`, cmd, reply);
    return reply;
  }

  async topicRoute(topic: string): Promise<TopicRoute> {
    const reply = await this.namesrvRaw(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }));
    if (reply.code === ResponseCode.TOPIC_NOT_EXIST) throw new CliError(`topic "${topic}" does not exist (no route in the NameServer)`);
    if (reply.code !== ResponseCode.SUCCESS) throw replyError('NameServer', { code: RequestCode.GET_ROUTEINFO_BY_TOPIC }, reply);
    return decodeTopicRoute(reply.body);
  }

  /** Like topicRoute, but undefined for an unknown topic. */
  async topicRouteIfExists(topic: string): Promise<TopicRoute | undefined> {
    try {
      return await this.topicRoute(topic);
    } catch (err) {
      if (err instanceof CliError && /does not exist/.test(err.message)) return undefined;
      throw err;
    }
  }

  async clusterInfo(): Promise<ClusterInfo> {
    const cmd = createRequest(RequestCode.GET_BROKER_CLUSTER_INFO);
    const reply = await this.namesrvRaw(cmd);
    if (reply.code !== ResponseCode.SUCCESS) throw replyError('NameServer', cmd, reply);
    return decodeReply(reply.body, 'ClusterInfo', decodeClusterInfo);
  }

  async topicList(): Promise<string[]> {
    const cmd = createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    const reply = await this.namesrvRaw(cmd);
    if (reply.code !== ResponseCode.SUCCESS) throw replyError('NameServer', cmd, reply);
    return decodeReply(reply.body, 'TopicList', decodeTopicList).topicList.sort();
  }
}

function replyError(peer: string, cmd: Pick<RemotingCommand, 'code'>, reply: RemotingCommand): CliError {
  const remark = reply.remark ? `: ${reply.remark}` : '';
  return new CliError(`${peer} answered ${requestCodeName(cmd.code)} with ${responseCodeName(reply.code)} (${reply.code})${remark}`);
}
