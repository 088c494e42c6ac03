/**
 * The broker's side of NameServer registration (BrokerOuterAPI.registerBrokerAll): REGISTER_BROKER
 * to EVERY NameServer in parallel with a JSON body and its CRC32, tolerating individual failures.
 * Scheduling (every registerNameServerPeriod and on topic change) is the broker's job.
 */
import { silentLogger, type Logger } from '../common/logger';
import { createRequest } from '../protocol/remoting-command';
import { RequestCode } from '../protocol/request-code';
import { ResponseCode } from '../protocol/response-code';
import { RemotingResponseError } from '../remoting/errors';
import type { RemotingClient } from '../remoting/remoting-client';
import { RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader } from '../protocol/headers';
import { encodeRegisterBrokerBody, type TopicConfigSerializeWrapper } from '../protocol/bodies';
import { computeBodyCrc } from '../protocol/message-record';

export const DEFAULT_REGISTER_TIMEOUT_MS = 6_000;

export interface BrokerIdentity {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  /** `ip:port` clients use. */
  brokerAddr: string;
  haServerAddr: string;
}

export interface NamesrvRegistrarOptions {
  timeoutMs?: number;
  /** Sent as heartbeatTimeoutMillis; the NameServer's own expiry applies when absent. */
  heartbeatTimeoutMs?: number;
  /** Send the zlib form of the body (RocketMQ `compressedRegister`). Default false. */
  compressed?: boolean;
  logger?: Logger;
}

export interface RegistrationOutcome {
  namesrvAddr: string;
  ok: boolean;
  error?: Error;
  /** For slaves: the master's address and HA address, as the NameServer knows them. */
  masterAddr?: string;
  haServerAddr?: string;
}

export class NamesrvRegistrar {
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private namesrvAddrs: string[];

  constructor(
    private readonly client: RemotingClient,
    namesrvAddrs: string[],
    private readonly identity: BrokerIdentity,
    private readonly opts: NamesrvRegistrarOptions = {},
  ) {
    this.namesrvAddrs = [...namesrvAddrs];
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS;
    this.logger = opts.logger ?? silentLogger;
  }

  get addresses(): readonly string[] {
    return this.namesrvAddrs;
  }

  updateAddresses(namesrvAddrs: string[]): void {
    this.namesrvAddrs = [...namesrvAddrs];
  }

  /** Registers with every NameServer at once; never throws, reports per NameServer. */
  async registerAll(topicConfigWrapper: TopicConfigSerializeWrapper): Promise<RegistrationOutcome[]> {
    const body = encodeRegisterBrokerBody({ topicConfigSerializeWrapper: topicConfigWrapper, filterServerList: [] }, this.opts.compressed ?? false);
    const { clusterName, brokerName, brokerId, brokerAddr, haServerAddr } = this.identity;
    const header = RegisterBrokerRequestHeader.encode({
      brokerName,
      brokerAddr,
      clusterName,
      haServerAddr,
      brokerId,
      compressed: this.opts.compressed ?? false,
      bodyCrc32: computeBodyCrc(body),
      heartbeatTimeoutMillis: this.opts.heartbeatTimeoutMs,
    });
    return Promise.all(
      this.namesrvAddrs.map(async (namesrvAddr): Promise<RegistrationOutcome> => {
        try {
          const req = createRequest(RequestCode.REGISTER_BROKER, undefined, body);
          req.extFields = header;
          const resp = await this.client.invoke(namesrvAddr, req, this.timeoutMs);
          if (resp.code !== ResponseCode.SUCCESS) throw RemotingResponseError.from(resp, namesrvAddr);
          const outcome: RegistrationOutcome = { namesrvAddr, ok: true };
          if (resp.extFields.masterAddr) outcome.masterAddr = resp.extFields.masterAddr;
          if (resp.extFields.haServerAddr) outcome.haServerAddr = resp.extFields.haServerAddr;
          return outcome;
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          this.logger.warn({ namesrvAddr, err: error.message }, 'register broker to NameServer failed');
          return { namesrvAddr, ok: false, error };
        }
      }),
    );
  }

  /** UNREGISTER_BROKER to every NameServer (shutdown); failures are logged, not thrown. */
  async unregisterAll(): Promise<void> {
    const { clusterName, brokerName, brokerId, brokerAddr } = this.identity;
    const extFields = UnregisterBrokerRequestHeader.encode({ clusterName, brokerName, brokerId, brokerAddr });
    await Promise.all(
      this.namesrvAddrs.map(async (namesrvAddr) => {
        try {
          const req = createRequest(RequestCode.UNREGISTER_BROKER);
          req.extFields = extFields;
          const resp = await this.client.invoke(namesrvAddr, req, this.timeoutMs);
          if (resp.code !== ResponseCode.SUCCESS) throw RemotingResponseError.from(resp, namesrvAddr);
        } catch (err) {
          this.logger.warn({ namesrvAddr, err: err instanceof Error ? err.message : String(err) }, 'unregister broker from NameServer failed');
        }
      }),
    );
  }
}
