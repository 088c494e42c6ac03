/**
 * The NameServer's route table (`RouteInfoManager.java`):
 *
 *   topicQueueTable   topic → brokerName → QueueData
 *   brokerAddrTable   brokerName → BrokerData (cluster, brokerId → address; 0 = master)
 *   clusterAddrTable  cluster → brokerNames
 *   brokerLiveTable   cluster+address → last registration, data version, HA address, channel
 *
 * Only a master's registration (brokerId 0) updates topic queue data. A broker leaves when it
 * unregisters, when its channel closes, or when it has not registered for its heartbeat timeout;
 * a brokerName with no address left takes its topics with it, and a topic with no broker left
 * disappears.
 */
import { silentLogger, type Logger } from '../common/logger';
import { systemClock, type Clock } from '../common/clock';
import type { BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData } from '../protocol/bodies';
import { sameDataVersion } from '../protocol/bodies';
import type { Channel } from '../remoting/types';

export const MASTER_ID = 0;

/** The TopicConfig fields the NameServer reads. */
export type RegisteredTopicConfig = Pick<TopicConfig, 'readQueueNums' | 'writeQueueNums' | 'perm'> & Partial<Pick<TopicConfig, 'topicName' | 'topicSysFlag'>>;

export interface RegisterBrokerInput {
  clusterName: string;
  brokerAddr: string;
  brokerName: string;
  brokerId: number;
  haServerAddr: string;
  /** Overrides the NameServer's brokerChannelExpiredTime for this broker. */
  heartbeatTimeoutMillis?: number;
  enableActingMaster?: boolean;
  zoneName?: string;
  topicConfigTable: Record<string, RegisteredTopicConfig>;
  dataVersion: DataVersion;
  filterServerList?: string[];
  channel?: Channel;
}

export interface RegisterBrokerResult {
  haServerAddr?: string;
  masterAddr?: string;
}

interface BrokerLiveInfo {
  clusterName: string;
  brokerAddr: string;
  lastUpdateTimestamp: number;
  heartbeatTimeoutMillis: number;
  dataVersion: DataVersion;
  haServerAddr: string;
  channel: Channel | undefined;
}

interface BrokerEntry {
  cluster: string;
  brokerName: string;
  brokerAddrs: Map<number, string>;
  enableActingMaster: boolean;
  zoneName?: string;
}

export interface RouteInfoManagerOptions {
  brokerChannelExpiredTimeMs: number;
  clock?: Clock;
  logger?: Logger;
}

const liveKey = (clusterName: string, brokerAddr: string) => `${clusterName}\u0001${brokerAddr}`;

export class RouteInfoManager {
  private readonly topicQueueTable = new Map<string, Map<string, QueueData>>();
  private readonly brokerAddrTable = new Map<string, BrokerEntry>();
  private readonly clusterAddrTable = new Map<string, Set<string>>();
  private readonly brokerLiveTable = new Map<string, BrokerLiveInfo>();
  private readonly filterServerTable = new Map<string, string[]>();
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly options: RouteInfoManagerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  registerBroker(input: RegisterBrokerInput): RegisterBrokerResult {
    const { clusterName, brokerAddr, brokerName, brokerId } = input;
    let names = this.clusterAddrTable.get(clusterName);
    if (!names) {
      names = new Set();
      this.clusterAddrTable.set(clusterName, names);
    }
    names.add(brokerName);

    let entry = this.brokerAddrTable.get(brokerName);
    if (!entry) {
      entry = { cluster: clusterName, brokerName, brokerAddrs: new Map(), enableActingMaster: false };
      this.brokerAddrTable.set(brokerName, entry);
    }
    entry.enableActingMaster = input.enableActingMaster ?? false;
    if (input.zoneName) entry.zoneName = input.zoneName;
    // The same address under another id means a slave became master (or back): drop the old id.
    for (const [id, addr] of entry.brokerAddrs) {
      if (addr === brokerAddr && id !== brokerId) entry.brokerAddrs.delete(id);
    }
    entry.brokerAddrs.set(brokerId, brokerAddr);

    const key = liveKey(clusterName, brokerAddr);
    const previous = this.brokerLiveTable.get(key);
    // Java skips this when the data version is unchanged; we always apply it (cheap at our scale)
    // so a broker that forgets to bump its version still gets new topics routed.
    if (brokerId === MASTER_ID) {
      for (const [topic, tc] of Object.entries(input.topicConfigTable)) this.createOrUpdateQueueData(brokerName, tc.topicName ?? topic, tc);
    }

    this.brokerLiveTable.set(key, {
      clusterName,
      brokerAddr,
      lastUpdateTimestamp: this.clock.now(),
      heartbeatTimeoutMillis: input.heartbeatTimeoutMillis ?? this.options.brokerChannelExpiredTimeMs,
      dataVersion: input.dataVersion,
      haServerAddr: input.haServerAddr,
      channel: input.channel,
    });
    if (!previous) this.logger.info({ clusterName, brokerName, brokerId, brokerAddr, haServerAddr: input.haServerAddr }, 'new broker registered');

    if (input.filterServerList && input.filterServerList.length > 0) this.filterServerTable.set(key, [...input.filterServerList]);
    else this.filterServerTable.delete(key);

    const result: RegisterBrokerResult = {};
    if (brokerId !== MASTER_ID) {
      const masterAddr = entry.brokerAddrs.get(MASTER_ID);
      if (masterAddr) {
        const master = this.brokerLiveTable.get(liveKey(clusterName, masterAddr));
        if (master) {
          result.haServerAddr = master.haServerAddr;
          result.masterAddr = masterAddr;
        }
      }
    }
    return result;
  }

  unregisterBroker(clusterName: string, brokerAddr: string, brokerName: string, brokerId: number): void {
    const key = liveKey(clusterName, brokerAddr);
    this.brokerLiveTable.delete(key);
    this.filterServerTable.delete(key);
    const entry = this.brokerAddrTable.get(brokerName);
    if (entry && entry.brokerAddrs.get(brokerId) === brokerAddr) entry.brokerAddrs.delete(brokerId);
    this.logger.info({ clusterName, brokerName, brokerId, brokerAddr }, 'broker unregistered');
    this.dropBrokerNameIfEmpty(brokerName, clusterName);
  }

  /** The broker whose registration came over this channel is gone (BrokerHousekeepingService). */
  onChannelDestroy(channel: Channel): void {
    for (const [key, live] of this.brokerLiveTable) {
      if (live.channel === channel || (live.channel && live.channel.id === channel.id)) {
        this.logger.info({ brokerAddr: live.brokerAddr, channel: channel.id }, 'broker channel closed, removing broker');
        this.removeLiveBroker(key, live);
      }
    }
  }

  /** Removes brokers silent for longer than their heartbeat timeout; returns how many. */
  scanNotActiveBroker(): number {
    const now = this.clock.now();
    let removed = 0;
    for (const [key, live] of this.brokerLiveTable) {
      if (live.lastUpdateTimestamp + live.heartbeatTimeoutMillis < now) {
        this.logger.warn({ brokerAddr: live.brokerAddr, silentMs: now - live.lastUpdateTimestamp }, 'broker expired, removing it');
        live.channel?.close('broker expired');
        this.removeLiveBroker(key, live);
        removed++;
      }
    }
    return removed;
  }

  /** QUERY_DATA_VERSION: refreshes liveness; true when the broker's data version differs from ours. */
  queryDataVersion(clusterName: string, brokerAddr: string, dataVersion: DataVersion | undefined): { changed: boolean; stored?: DataVersion } {
    const live = this.brokerLiveTable.get(liveKey(clusterName, brokerAddr));
    if (!live) return { changed: true };
    live.lastUpdateTimestamp = this.clock.now();
    return { changed: !dataVersion || !sameDataVersion(live.dataVersion, dataVersion), stored: live.dataVersion };
  }

  pickupTopicRouteData(topic: string): TopicRouteData | undefined {
    const queues = this.topicQueueTable.get(topic);
    if (!queues || queues.size === 0) return undefined;
    const queueDatas: QueueData[] = [];
    const brokerDatas: BrokerData[] = [];
    const filterServerTable: Record<string, string[]> = {};
    for (const [brokerName, qd] of queues) {
      queueDatas.push({ ...qd });
      const entry = this.brokerAddrTable.get(brokerName);
      if (!entry) continue;
      const data = toBrokerData(entry);
      brokerDatas.push(data);
      for (const addr of Object.values(data.brokerAddrs)) {
        const filters = this.filterServerTable.get(liveKey(entry.cluster, addr));
        if (filters) filterServerTable[addr] = [...filters];
      }
    }
    if (brokerDatas.length === 0) return undefined;
    return { queueDatas, brokerDatas, filterServerTable };
  }

  getClusterInfo(): ClusterInfo {
    const brokerAddrTable: Record<string, BrokerData> = {};
    for (const [name, entry] of this.brokerAddrTable) brokerAddrTable[name] = toBrokerData(entry);
    const clusterAddrTable: Record<string, string[]> = {};
    for (const [cluster, names] of this.clusterAddrTable) clusterAddrTable[cluster] = [...names].sort();
    return { brokerAddrTable, clusterAddrTable };
  }

  getAllTopics(): string[] {
    return [...this.topicQueueTable.keys()];
  }

  getTopicsByCluster(cluster: string): string[] {
    const names = this.clusterAddrTable.get(cluster);
    if (!names) return [];
    const out: string[] = [];
    for (const [topic, queues] of this.topicQueueTable) {
      for (const name of queues.keys()) {
        if (names.has(name)) {
          out.push(topic);
          break;
        }
      }
    }
    return out;
  }

  /** Live broker addresses (tests and diagnostics). */
  liveBrokers(): Array<{ clusterName: string; brokerAddr: string; lastUpdateTimestamp: number }> {
    return [...this.brokerLiveTable.values()].map(({ clusterName, brokerAddr, lastUpdateTimestamp }) => ({ clusterName, brokerAddr, lastUpdateTimestamp }));
  }

  // -------------------------------------------------------------------------------------------

  private createOrUpdateQueueData(brokerName: string, topic: string, tc: RegisteredTopicConfig): void {
    const queueData: QueueData = {
      brokerName,
      readQueueNums: tc.readQueueNums,
      writeQueueNums: tc.writeQueueNums,
      perm: tc.perm,
      topicSysFlag: tc.topicSysFlag ?? 0,
    };
    let queues = this.topicQueueTable.get(topic);
    if (!queues) {
      queues = new Map();
      this.topicQueueTable.set(topic, queues);
      this.logger.info({ topic, queueData }, 'new topic registered');
    }
    queues.set(brokerName, queueData);
  }

  private removeLiveBroker(key: string, live: BrokerLiveInfo): void {
    this.brokerLiveTable.delete(key);
    this.filterServerTable.delete(key);
    for (const [brokerName, entry] of this.brokerAddrTable) {
      if (entry.cluster !== live.clusterName) continue;
      let touched = false;
      for (const [id, addr] of entry.brokerAddrs) {
        if (addr === live.brokerAddr) {
          entry.brokerAddrs.delete(id);
          touched = true;
        }
      }
      if (touched) this.dropBrokerNameIfEmpty(brokerName, live.clusterName);
    }
  }

  private dropBrokerNameIfEmpty(brokerName: string, clusterName: string): void {
    const entry = this.brokerAddrTable.get(brokerName);
    if (!entry || entry.brokerAddrs.size > 0) return;
    this.brokerAddrTable.delete(brokerName);
    this.logger.info({ brokerName }, 'broker name removed, no address left');
    const names = this.clusterAddrTable.get(clusterName);
    if (names) {
      names.delete(brokerName);
      if (names.size === 0) this.clusterAddrTable.delete(clusterName);
    }
    for (const [topic, queues] of this.topicQueueTable) {
      if (queues.delete(brokerName) && queues.size === 0) {
        this.topicQueueTable.delete(topic);
        this.logger.info({ topic }, 'topic removed, no broker left');
      }
    }
  }
}

function toBrokerData(entry: BrokerEntry): BrokerData {
  const brokerAddrs: Record<string, string> = {};
  for (const id of [...entry.brokerAddrs.keys()].sort((a, b) => a - b)) brokerAddrs[String(id)] = entry.brokerAddrs.get(id)!;
  const data: BrokerData = { cluster: entry.cluster, brokerName: entry.brokerName, brokerAddrs, enableActingMaster: entry.enableActingMaster };
  if (entry.zoneName) data.zoneName = entry.zoneName;
  return data;
}
