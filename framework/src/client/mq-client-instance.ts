/**
 * MQClientInstance: what all producers and consumers of one clientId (`ip@instanceName`) share
 * (Java `MQClientInstance`): one RemotingClient (one pipelined connection per broker), NameServer
 * access with failover, the topic route table (refreshed every `pollNameServerIntervalMs`), the
 * broker address table, heartbeats to the brokers (every `heartbeatBrokerIntervalMs`, carrying every
 * registered group), periodic consumer offset persistence, and broker-initiated
 * NOTIFY_CONSUMER_IDS_CHANGED and CHECK_TRANSACTION_STATE (routed to the producer of the half
 * message's PGROUP). `start`/`shutdown` are reference-counted: the last shutdown closes it.
 */
import {
  CheckTransactionStateRequestHeader,
  MessageConst,
  NotifyConsumerIdsChangedRequestHeader,
  RequestCode,
  SerializeType,
  isReadable,
  masterAddress,
  type ConsumerData,
  type HeartbeatData,
  type MessageQueue,
  type TopicRouteData,
} from '@rocketry/broker/protocol';
import { NamesrvClient, RemotingClient } from '@rocketry/broker/remoting';
import { buildClientId, resolveClientConfig, type ClientOptions, type Logger, type ResolvedClientConfig } from './client-options';
import { decodePulledMessages, type MessageExt } from './message';
import { MQClientAPI } from './mq-client-api';

/** What a producer registers with its client instance. */
export interface ProducerHandle {
  readonly group: string;
  /** Topics this producer sends to (their routes are kept fresh). */
  publishTopics(): Iterable<string>;
  /** A route was fetched for the first time or changed. */
  onTopicRouteChanged?(topic: string, route: TopicRouteData): void;
  /**
   * The broker at `brokerAddr` asks for the state of a half message of this group
   * (CHECK_TRANSACTION_STATE, oneway); answer with END_TRANSACTION when known. Must not throw.
   */
  checkTransactionState?(brokerAddr: string, msg: MessageExt, header: CheckTransactionStateRequestHeader): void;
}

/** What a consumer registers with its client instance. */
export interface ConsumerHandle {
  readonly group: string;
  /** The heartbeat entry of this consumer (group, model, subscriptions incl. `%RETRY%<group>`). */
  consumerData(): ConsumerData;
  /** Topics whose routes the instance keeps fresh (subscriptions incl. the retry topic). */
  subscribedTopics(): Iterable<string>;
  /** Broker said the group's member list changed (NOTIFY_CONSUMER_IDS_CHANGED): rebalance now. */
  onConsumerIdsChanged?(): void;
  onTopicRouteChanged?(topic: string, route: TopicRouteData): void;
  /** Called every `persistConsumerOffsetIntervalMs`. */
  persistConsumerOffset?(): Promise<void> | void;
}

export interface BrokerAddressResult {
  brokerAddr: string;
  /** True when the address is not the master (brokerId 0). */
  slave: boolean;
  brokerId: number;
}

const MASTER_ID = '0';

/** Route with queueDatas/brokerDatas sorted, so two replies compare equal by JSON. */
function normaliseRoute(route: TopicRouteData): string {
  const byName = (a: { brokerName: string }, b: { brokerName: string }) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0);
  return JSON.stringify({
    q: [...route.queueDatas].sort(byName),
    b: [...route.brokerDatas].sort(byName).map((bd) => ({ ...bd, brokerAddrs: Object.entries(bd.brokerAddrs).sort() })),
    o: route.orderTopicConf ?? '',
  });
}

const instances = new Map<string, MQClientInstance>();

/** Shared instance for the clientId these options produce (Java `MQClientManager.getOrCreateMQClientInstance`). */
export function getOrCreateClientInstance(options: ClientOptions): MQClientInstance {
  const config = resolveClientConfig(options);
  const clientId = buildClientId(config);
  let instance = instances.get(clientId);
  if (!instance || instance.closed) {
    instance = new MQClientInstance(config, clientId);
    instances.set(clientId, instance);
  }
  return instance;
}

export class MQClientInstance {
  readonly remoting: RemotingClient;
  readonly namesrv: NamesrvClient;
  readonly api: MQClientAPI;
  readonly logger: Logger;
  private readonly topicRouteTable = new Map<string, TopicRouteData>();
  private readonly routeFingerprints = new Map<string, string>();
  /** brokerName → brokerId → address, from every known route. */
  private readonly brokerAddrTable = new Map<string, Record<string, string>>();
  private readonly producers = new Map<string, ProducerHandle>();
  private readonly consumers = new Map<string, ConsumerHandle>();
  private readonly routeFetches = new Map<string, Promise<TopicRouteData | undefined>>();
  private refCount = 0;
  private timers: NodeJS.Timeout[] = [];
  private heartbeatInFlight: Promise<void> | undefined;
  private heartbeatQueued: Promise<void> | undefined;
  private closedFlag = false;

  constructor(
    readonly config: ResolvedClientConfig,
    readonly clientId: string = buildClientId(config),
  ) {
    this.logger = config.logger;
    this.remoting = new RemotingClient({
      connectTimeoutMs: config.connectTimeoutMs,
      logger: config.logger,
      serializeType: SerializeType[config.serializeType],
    });
    this.namesrv = new NamesrvClient(this.remoting, config.namesrvAddrs);
    this.api = new MQClientAPI(this.remoting, this.namesrv, config.mqClientApiTimeoutMs);
    this.remoting.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (request) => {
      let group: string | undefined;
      try {
        group = NotifyConsumerIdsChangedRequestHeader.decode(request.extFields).consumerGroup;
      } catch {
        return null;
      }
      const consumer = this.consumers.get(group);
      this.logger.debug({ group }, 'consumer ids changed');
      if (consumer?.onConsumerIdsChanged) {
        try {
          consumer.onConsumerIdsChanged();
        } catch (err) {
          this.logger.warn({ err, group }, 'onConsumerIdsChanged failed');
        }
      }
      return null;
    });
    this.remoting.registerProcessor(RequestCode.CHECK_TRANSACTION_STATE, (request, channel) => {
      this.onCheckTransactionState(request.extFields, request.body, channel.remoteAddress);
      return null;
    });
  }

  /** Routes a CHECK_TRANSACTION_STATE to the producer of the half message's group (Java `ClientRemotingProcessor.checkTransactionState`). */
  private onCheckTransactionState(extFields: Record<string, string>, body: Buffer | undefined, brokerAddr: string): void {
    let header: CheckTransactionStateRequestHeader;
    let msg: MessageExt | undefined;
    try {
      header = CheckTransactionStateRequestHeader.decode(extFields);
      msg = body ? decodePulledMessages(body)[0] : undefined;
    } catch (err) {
      this.logger.warn({ err, brokerAddr }, 'bad CHECK_TRANSACTION_STATE request');
      return;
    }
    if (!msg) {
      this.logger.warn({ brokerAddr }, 'CHECK_TRANSACTION_STATE without a message body');
      return;
    }
    const group = msg.properties[MessageConst.PGROUP];
    const producer = group === undefined ? undefined : this.producers.get(group);
    if (!producer?.checkTransactionState) {
      this.logger.debug({ group, brokerAddr, msgId: msg.msgId }, 'CHECK_TRANSACTION_STATE for a group without a transaction producer here');
      return;
    }
    try {
      producer.checkTransactionState(brokerAddr, msg, header);
    } catch (err) {
      this.logger.warn({ err, group }, 'checkTransactionState failed');
    }
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get running(): boolean {
    return this.refCount > 0;
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Starts the periodic tasks on the first call; every call needs a matching `shutdown`. */
  async start(): Promise<void> {
    if (this.closedFlag) throw new Error(`client instance ${this.clientId} is shut down`);
    this.refCount++;
    if (this.refCount > 1) return;
    const every = (ms: number, task: () => Promise<unknown>) => {
      const timer = setInterval(() => {
        task().catch((err: unknown) => this.logger.warn({ err }, 'periodic client task failed'));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.pollNameServerIntervalMs, () => this.updateAllTopicRoutes());
    every(this.config.heartbeatBrokerIntervalMs, () => this.sendHeartbeatToAllBrokers());
    every(this.config.persistConsumerOffsetIntervalMs, () => this.persistAllConsumerOffsets());
  }

  /** Drops one reference; the last one stops the timers and closes every connection. */
  async shutdown(): Promise<void> {
    if (this.refCount === 0) return;
    this.refCount--;
    if (this.refCount > 0) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.heartbeatInFlight) await this.heartbeatInFlight.catch(() => undefined);
    this.closedFlag = true;
    this.remoting.close();
    if (instances.get(this.clientId) === this) instances.delete(this.clientId);
  }

  // -------------------------------------------------------------------------------------------
  // Registry

  /** False when the group is already registered on this instance (Java refuses duplicates). */
  registerProducer(handle: ProducerHandle): boolean {
    if (this.producers.has(handle.group)) return false;
    this.producers.set(handle.group, handle);
    return true;
  }

  registerConsumer(handle: ConsumerHandle): boolean {
    if (this.consumers.has(handle.group)) return false;
    this.consumers.set(handle.group, handle);
    return true;
  }

  /** Forgets the producer group and sends UNREGISTER_CLIENT to every known broker. */
  async unregisterProducer(group: string): Promise<void> {
    if (!this.producers.delete(group)) return;
    await this.unregisterClient({ producerGroup: group });
  }

  /** Forgets the consumer group and sends UNREGISTER_CLIENT to every known broker. */
  async unregisterConsumer(group: string): Promise<void> {
    if (!this.consumers.delete(group)) return;
    await this.unregisterClient({ consumerGroup: group });
  }

  get producerGroups(): string[] {
    return [...this.producers.keys()];
  }

  get consumerGroups(): string[] {
    return [...this.consumers.keys()];
  }

  private async unregisterClient(groups: { producerGroup?: string; consumerGroup?: string }): Promise<void> {
    const addrs = new Set<string>();
    for (const ids of this.brokerAddrTable.values()) for (const addr of Object.values(ids)) addrs.add(addr);
    await Promise.all(
      [...addrs].map((addr) =>
        this.api.unregisterClient(addr, { clientID: this.clientId, ...groups }).catch((err: unknown) => {
          this.logger.warn({ err, addr, ...groups }, 'unregister client failed');
        }),
      ),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Routes

  /** Last route fetched for the topic, if any. */
  getTopicRoute(topic: string): TopicRouteData | undefined {
    return this.topicRouteTable.get(topic);
  }

  /**
   * Fetches the topic's route from the NameServers (failover across the list) and stores it.
   * Resolves undefined when the topic has no route; concurrent calls for one topic share a fetch.
   */
  updateTopicRouteFromNameServer(topic: string): Promise<TopicRouteData | undefined> {
    const inFlight = this.routeFetches.get(topic);
    if (inFlight) return inFlight;
    const fetch = this.api
      .getTopicRouteInfo(topic)
      .then((route) => {
        if (route) this.storeRoute(topic, route);
        return route;
      })
      .finally(() => this.routeFetches.delete(topic));
    this.routeFetches.set(topic, fetch);
    return fetch;
  }

  private storeRoute(topic: string, route: TopicRouteData): void {
    const fingerprint = normaliseRoute(route);
    if (this.routeFingerprints.get(topic) === fingerprint) return;
    this.routeFingerprints.set(topic, fingerprint);
    this.topicRouteTable.set(topic, route);
    let newBroker = false;
    for (const bd of route.brokerDatas) {
      const known = this.brokerAddrTable.get(bd.brokerName);
      if (!known || Object.values(bd.brokerAddrs).some((a) => !Object.values(known).includes(a))) newBroker = true;
      this.brokerAddrTable.set(bd.brokerName, { ...bd.brokerAddrs });
    }
    // Announce our groups to a broker we just learned about instead of waiting for the next period.
    if (newBroker && this.refCount > 0) void this.sendHeartbeatToAllBrokers();
    for (const handle of [...this.producers.values(), ...this.consumers.values()]) {
      try {
        handle.onTopicRouteChanged?.(topic, route);
      } catch (err) {
        this.logger.warn({ err, topic }, 'onTopicRouteChanged failed');
      }
    }
  }

  /** Refreshes the routes of every topic a registered producer/consumer uses, then drops offline brokers. */
  async updateAllTopicRoutes(): Promise<void> {
    const topics = new Set<string>();
    for (const p of this.producers.values()) for (const t of p.publishTopics()) topics.add(t);
    for (const c of this.consumers.values()) for (const t of c.subscribedTopics()) topics.add(t);
    await Promise.all(
      [...topics].map((topic) =>
        this.updateTopicRouteFromNameServer(topic).catch((err: unknown) => this.logger.warn({ err, topic }, 'route refresh failed')),
      ),
    );
    this.cleanOfflineBrokers();
  }

  /** Keeps only brokers that some stored route still names (Java `cleanOfflineBroker`). */
  private cleanOfflineBrokers(): void {
    const live = new Map<string, Record<string, string>>();
    for (const route of this.topicRouteTable.values()) {
      for (const bd of route.brokerDatas) live.set(bd.brokerName, bd.brokerAddrs);
    }
    for (const name of [...this.brokerAddrTable.keys()]) if (!live.has(name)) this.brokerAddrTable.delete(name);
  }

  /** Master address of a broker, for sending. */
  findBrokerAddressInPublish(brokerName: string): string | undefined {
    return this.brokerAddrTable.get(brokerName)?.[MASTER_ID];
  }

  /**
   * Address to pull/commit on: the wanted brokerId if known, else (unless onlyThisBroker) any
   * address of that broker, master first.
   */
  findBrokerAddressInSubscribe(brokerName: string, brokerId = 0, onlyThisBroker = false): BrokerAddressResult | undefined {
    const ids = this.brokerAddrTable.get(brokerName);
    if (!ids) return undefined;
    const wanted = ids[String(brokerId)];
    if (wanted) return { brokerAddr: wanted, slave: brokerId !== 0, brokerId };
    if (onlyThisBroker) return undefined;
    const sorted = Object.keys(ids).sort((a, b) => Number(a) - Number(b));
    const first = sorted[0];
    if (first === undefined) return undefined;
    return { brokerAddr: ids[first]!, slave: first !== MASTER_ID, brokerId: Number(first) };
  }

  /** Every address (masters and slaves) of every known broker. */
  allBrokerAddresses(mastersOnly = false): string[] {
    const out: string[] = [];
    for (const ids of this.brokerAddrTable.values()) {
      for (const [id, addr] of Object.entries(ids)) if (!mastersOnly || id === MASTER_ID) out.push(addr);
    }
    return out;
  }

  /** Readable queues of a topic from its stored route (Java `topicRouteData2TopicSubscribeInfo`), sorted. */
  getSubscribeQueues(topic: string): MessageQueue[] | undefined {
    const route = this.topicRouteTable.get(topic);
    if (!route) return undefined;
    const out: MessageQueue[] = [];
    for (const qd of route.queueDatas) {
      if (!isReadable(qd.perm)) continue;
      for (let i = 0; i < qd.readQueueNums; i++) out.push({ topic, brokerName: qd.brokerName, queueId: i });
    }
    return out.sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : a.queueId - b.queueId));
  }

  /** A broker serving the topic (first by name, master preferred), for group-wide calls such as the consumer list. */
  findBrokerAddrByTopic(topic: string): string | undefined {
    const route = this.topicRouteTable.get(topic);
    if (!route) return undefined;
    const sorted = [...route.brokerDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
    for (const bd of sorted) {
      const addr = masterAddress(bd) ?? Object.values(bd.brokerAddrs)[0];
      if (addr) return addr;
    }
    return undefined;
  }

  /** Client ids of the group's consumers, as one broker of the topic knows them (Java `findConsumerIdList`). */
  async findConsumerIdList(topic: string, group: string): Promise<string[]> {
    let addr = this.findBrokerAddrByTopic(topic);
    if (!addr) {
      await this.updateTopicRouteFromNameServer(topic);
      addr = this.findBrokerAddrByTopic(topic);
    }
    if (!addr) return [];
    return this.api.getConsumerIdListByGroup(addr, group);
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat and offsets

  /** The heartbeat body: every registered producer and consumer group. */
  buildHeartbeatData(): HeartbeatData {
    return {
      clientID: this.clientId,
      producerDataSet: [...this.producers.keys()].map((groupName) => ({ groupName })),
      consumerDataSet: [...this.consumers.values()].map((c) => c.consumerData()),
    };
  }

  /**
   * HEART_BEAT to every broker master (every address when consumers are registered, like Java).
   * At most one runs at a time; a call during a run queues one more run (so a group registered
   * meanwhile is announced). Failures are logged, not thrown.
   */
  sendHeartbeatToAllBrokers(): Promise<void> {
    if (this.heartbeatInFlight) {
      this.heartbeatQueued ??= this.heartbeatInFlight.then(() => {
        this.heartbeatQueued = undefined;
        return this.sendHeartbeatToAllBrokers();
      });
      return this.heartbeatQueued;
    }
    const run = async () => {
      if (this.producers.size === 0 && this.consumers.size === 0) return;
      const hb = this.buildHeartbeatData();
      const addrs = this.allBrokerAddresses(this.consumers.size === 0);
      await Promise.all(
        addrs.map((addr) =>
          this.api.sendHeartbeat(addr, hb).catch((err: unknown) => this.logger.warn({ err, addr }, 'heartbeat failed')),
        ),
      );
    };
    this.heartbeatInFlight = run().finally(() => {
      this.heartbeatInFlight = undefined;
    });
    return this.heartbeatInFlight;
  }

  /** Runs every consumer's offset persistence (the periodic task). */
  async persistAllConsumerOffsets(): Promise<void> {
    await Promise.all(
      [...this.consumers.values()].map(async (c) => {
        if (!c.persistConsumerOffset) return;
        try {
          await c.persistConsumerOffset();
        } catch (err) {
          this.logger.warn({ err, group: c.group }, 'persist consumer offset failed');
        }
      }),
    );
  }
}
