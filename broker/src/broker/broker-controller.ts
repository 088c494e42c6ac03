/**
 * BrokerController: the broker's composition root (RocketMQ `BrokerController`). It wires the store,
 * the managers, the processor table on a RemotingServer, long polling, the schedule (delay) service,
 * the transaction check service, client housekeeping and NameServer registration, and shuts them down in order.
 *
 * start():  load configs → bind ports (requests answered SYSTEM_BUSY until ready) → start the store
 *           (STOREHOST = brokerIP1 + the bound port) → processors → services → register with every
 *           NameServer (awaited once, then every registerNameServerPeriod and, debounced, on topic change).
 * shutdown(): answer held pulls → stop accepting / close connections → unregister → stop services →
 *           persist configs and offsets → flush and close the store.
 */
import fs from 'node:fs';
import type { Clock } from '../common/clock';
import { systemClock } from '../common/clock';
import type { Logger } from '../common/logger';
import { createLogger } from '../common/logger';
import type { BrokerSettings } from '../config';
import { consumeQueueEntriesPerFile, parseDelayLevels, parseNamesrvAddr } from '../config';
import type { HostAddress } from '../protocol/message-record';
import { createResponse } from '../protocol/remoting-command';
import { RequestCode } from '../protocol/request-code';
import { ResponseCode } from '../protocol/response-code';
import { NamesrvRegistrar, type RegistrationOutcome } from '../namesrv/broker-registration-client';
import type { TopicConfigSerializeWrapper } from '../protocol/bodies';
import { RemotingClient } from '../remoting/remoting-client';
import { RemotingServer } from '../remoting/remoting-server';
import type { Channel } from '../remoting/types';
import { DefaultMessageStore } from '../store/default-message-store';
import type { MessageStore, MessageStoreConfig } from '../store/types';
import type { BrokerContext } from './broker-context';
import { ClientHousekeepingService } from './client/client-housekeeping.service';
import { ConsumerIdsChangeNotifier } from './client/consumer-ids-change-notifier';
import { ConsumerManager } from './client/consumer-manager';
import { ProducerManager } from './client/producer-manager';
import { RebalanceLockManager } from './client/rebalance-lock-manager';
import { Perm, isReadable, isWriteable } from './constants';
import { ConsumerOffsetManager } from './consumer-offset-manager';
import { AdminProcessor } from './processors/admin.processor';
import { ClientManageProcessor } from './processors/client-manage.processor';
import { ConsumerOffsetProcessor } from './processors/consumer-offset.processor';
import { ConsumerSendMsgBackProcessor } from './processors/consumer-send-msg-back.processor';
import { EndTransactionProcessor } from './processors/end-transaction.processor';
import { LockBatchProcessor } from './processors/lock-batch.processor';
import { PullMessageProcessor } from './processors/pull-message.processor';
import { SendMessageProcessor } from './processors/send-message.processor';
import { PullRequestHoldService } from './pull-request-hold-service';
import { ScheduleMessageService } from './schedule/schedule-message.service';
import { SubscriptionGroupManager } from './subscription-group-manager';
import { TopicConfigManager } from './topic-config-manager';
import { TransactionCheckService } from './transaction/transaction-check.service';
import { TransactionalMessageService, type TransactionStats } from './transaction/transactional-message.service';

export interface BrokerControllerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Sweep period of long-polling timeouts. Default 1000 (tests use less). */
  holdCheckIntervalMs?: number;
  /** Re-registration after topic changes waits this long to coalesce bursts. Default 50. */
  registerDebounceMs?: number;
  /** Client liveness scan period. Default 10000. */
  clientScanIntervalMs?: number;
}

/** Java clamps registerNameServerPeriod to 10–60 s; we allow down to 1 s so tests can watch it. */
const MIN_REGISTER_PERIOD_MS = 1_000;
const MAX_REGISTER_PERIOD_MS = 60_000;
const DEFAULT_REGISTER_DEBOUNCE_MS = 50;

/** Codes served by the broker-core processors. */
const SEND_CODES = [RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE];
const OFFSET_CODES = [RequestCode.QUERY_CONSUMER_OFFSET, RequestCode.UPDATE_CONSUMER_OFFSET];
const ADMIN_CODES = [
  RequestCode.GET_MAX_OFFSET,
  RequestCode.GET_MIN_OFFSET,
  RequestCode.GET_EARLIEST_MSG_STORETIME,
  RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
  RequestCode.VIEW_MESSAGE_BY_ID,
  RequestCode.QUERY_MESSAGE,
  RequestCode.UPDATE_AND_CREATE_TOPIC,
  RequestCode.GET_ALL_TOPIC_CONFIG,
  RequestCode.GET_TOPIC_STATS_INFO,
  RequestCode.GET_CONSUME_STATS,
  RequestCode.GET_CONSUMER_CONNECTION_LIST,
];

/** Maps broker settings (RocketMQ names) to the store's config. */
export function messageStoreConfigOf(settings: BrokerSettings, storeHost: HostAddress): MessageStoreConfig {
  return {
    storePathRootDir: settings.storePathRootDir,
    mappedFileSizeCommitLog: settings.mappedFileSizeCommitLog,
    mappedFileSizeConsumeQueueEntries: consumeQueueEntriesPerFile(settings.mappedFileSizeConsumeQueue),
    flushDiskType: settings.flushDiskType,
    flushIntervalCommitLogMs: settings.flushIntervalCommitLog,
    syncFlushTimeoutMs: settings.syncFlushTimeout,
    maxMessageSize: settings.maxMessageSize,
    fileReservedTimeHours: settings.fileReservedTime,
    deleteWhen: settings.deleteWhen,
    diskMaxUsedSpaceRatio: settings.diskMaxUsedSpaceRatio,
    messageDelayLevel: settings.messageDelayLevel,
    maxHashSlotNum: settings.maxHashSlotNum,
    maxIndexNum: settings.maxIndexNum,
    storeHost,
  };
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class BrokerController {
  readonly settings: BrokerSettings;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly topicConfigManager: TopicConfigManager;
  readonly subscriptionGroupManager: SubscriptionGroupManager;
  readonly consumerOffsetManager: ConsumerOffsetManager;
  readonly consumerManager: ConsumerManager;
  readonly producerManager: ProducerManager;
  readonly rebalanceLockManager: RebalanceLockManager;
  private permission: number = Perm.READ | Perm.WRITE;

  private state: State = 'new';
  private server: RemotingServer | undefined;
  private messageStore: MessageStore | undefined;
  private context: BrokerContext | undefined;
  private holdService: PullRequestHoldService | undefined;
  private scheduleService: ScheduleMessageService | undefined;
  private transactionService: TransactionalMessageService | undefined;
  private transactionCheck: TransactionCheckService | undefined;
  private housekeeping: ClientHousekeepingService | undefined;
  private namesrvClient: RemotingClient | undefined;
  private registrar: NamesrvRegistrar | undefined;
  private registerTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private registering: Promise<RegistrationOutcome[]> | undefined;
  private registerAgain = false;
  private unsubscribers: Array<() => void> = [];
  private boundPort = 0;
  private readonly opts: BrokerControllerOptions;

  constructor(settings: BrokerSettings, opts: BrokerControllerOptions = {}) {
    this.settings = settings;
    this.opts = opts;
    this.logger = opts.logger ?? createLogger('broker');
    this.clock = opts.clock ?? systemClock;
    const mgrOpts = { logger: this.logger, clock: this.clock };
    this.topicConfigManager = new TopicConfigManager(settings, mgrOpts);
    this.subscriptionGroupManager = new SubscriptionGroupManager(settings, mgrOpts);
    this.consumerOffsetManager = new ConsumerOffsetManager(settings.storePathRootDir, { logger: this.logger });
    this.consumerManager = new ConsumerManager({ ...mgrOpts, channelExpiredTimeoutMs: settings.channelExpiredTimeout });
    this.producerManager = new ProducerManager({ ...mgrOpts, channelExpiredTimeoutMs: settings.channelExpiredTimeout });
    this.rebalanceLockManager = new RebalanceLockManager({ ...mgrOpts, lockMaxLiveTimeMs: settings.rebalanceLockMaxLiveTime });
  }

  /**
   * `brokerPermission` (PermName bits, RW by default). Clearing WRITE refuses sends (e.g. before a
   * planned shutdown) and re-registers at once so clients stop routing sends here.
   */
  get brokerPermission(): number {
    return this.permission;
  }

  set brokerPermission(perm: number) {
    if (perm === this.permission) return;
    this.permission = perm;
    this.logger.info({ brokerPermission: perm }, 'broker permission changed');
    this.scheduleRegister();
  }

  /** The bound primary port (the configured one, or the ephemeral one for listenPort 0). Valid after start. */
  get listenPort(): number {
    return this.boundPort;
  }

  /** The "VIP" port (listenPort-2) when fastListenPortEnable, else undefined. */
  get fastListenPort(): number | undefined {
    return this.server?.ports[1];
  }

  /** `brokerIP1:listenPort`, what clients and the NameServer see. */
  get brokerAddr(): string {
    return `${this.settings.brokerIP1}:${this.boundPort}`;
  }

  get store(): MessageStore {
    if (!this.messageStore) throw new Error('BrokerController.store is available after start()');
    return this.messageStore;
  }

  /** The processors' shared context (after start). */
  get brokerContext(): BrokerContext {
    if (!this.context) throw new Error('BrokerController context is available after start()');
    return this.context;
  }

  /** END_TRANSACTION handling and its registry (after start). */
  get transactionalMessageService(): TransactionalMessageService {
    if (!this.transactionService) throw new Error('BrokerController.transactionalMessageService is available after start()');
    return this.transactionService;
  }

  /** The transaction check-back service (after start); `runOnce()` runs a pass now. */
  get transactionCheckService(): TransactionCheckService {
    if (!this.transactionCheck) throw new Error('BrokerController.transactionCheckService is available after start()');
    return this.transactionCheck;
  }

  /** Counters: commits, rollbacks, checks sent/deferred, discards, duplicate/rejected ENDs, check passes. */
  get transactionStats(): TransactionStats | undefined {
    return this.transactionService ? { ...this.transactionService.stats } : undefined;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`BrokerController cannot start from state ${this.state}`);
    this.state = 'starting';
    const s = this.settings;
    try {
      fs.mkdirSync(s.storePathRootDir, { recursive: true });
      this.topicConfigManager.load();
      this.subscriptionGroupManager.load();
      this.consumerOffsetManager.load();

      const server = new RemotingServer({
        host: s.listenHost,
        port: s.listenPort,
        additionalPorts: s.fastListenPortEnable ? [s.listenPort === 0 ? 0 : s.listenPort - 2] : [],
        maxFrameBytes: s.maxFrameBytes,
        logger: this.logger,
      });
      this.server = server;
      // Until the store is recovered every request gets SYSTEM_BUSY (clients retry), not "unsupported".
      server.setDefaultProcessor((request) =>
        createResponse(request, ResponseCode.SYSTEM_BUSY, '[REJECTREQUEST]system busy, the broker is starting'),
      );
      this.boundPort = await server.start();

      const storeHost: HostAddress = { host: s.brokerIP1, port: this.boundPort };
      const store = new DefaultMessageStore(messageStoreConfigOf(s, storeHost), { logger: this.logger, clock: this.clock });
      this.messageStore = store;
      await store.start();

      // The context's permission is the controller's, so flipping either refuses writes everywhere.
      const getPermission = (): number => this.brokerPermission;
      const setPermission = (perm: number): void => {
        this.brokerPermission = perm;
      };
      const ctx: BrokerContext = {
        settings: s,
        store,
        topicConfigManager: this.topicConfigManager,
        subscriptionGroupManager: this.subscriptionGroupManager,
        consumerOffsetManager: this.consumerOffsetManager,
        consumerManager: this.consumerManager,
        storeHost,
        delayLevelsMs: parseDelayLevels(s.messageDelayLevel),
        logger: this.logger,
        clock: this.clock,
        get brokerPermission() {
          return getPermission();
        },
        set brokerPermission(perm: number) {
          setPermission(perm);
        },
      };
      this.context = ctx;
      this.registerProcessors(server, ctx);
      server.setDefaultProcessor(undefined);
      this.startServices(server, ctx);
      this.state = 'running';
      this.logger.info({ brokerAddr: this.brokerAddr, ports: server.ports, store: s.storePathRootDir }, 'broker started');
      await this.startRegistration();
    } catch (err) {
      this.logger.error({ err }, 'broker start failed');
      this.consumerOffsetManager.stop();
      await this.shutdown().catch(() => undefined);
      throw err;
    }
  }

  private registerProcessors(server: RemotingServer, ctx: BrokerContext): void {
    const send = new SendMessageProcessor(ctx);
    for (const code of SEND_CODES) server.registerProcessor(code, send.process);

    const pull = new PullMessageProcessor(ctx);
    const hold = new PullRequestHoldService({
      maxOffsetOf: (topic, queueId) => ctx.store.getMaxOffsetInQueue(topic, queueId),
      rerun: pull.rerun,
      checkIntervalMs: this.opts.holdCheckIntervalMs,
      clock: this.clock,
      logger: this.logger,
    });
    pull.setHoldService(hold);
    this.holdService = hold;
    server.registerProcessor(RequestCode.PULL_MESSAGE, pull.process);
    server.registerProcessor(RequestCode.LITE_PULL_MESSAGE, pull.process);

    const offsets = new ConsumerOffsetProcessor(ctx);
    for (const code of OFFSET_CODES) server.registerProcessor(code, offsets.process);

    const admin = new AdminProcessor(ctx);
    for (const code of ADMIN_CODES) server.registerProcessor(code, admin.process);

    new ClientManageProcessor({
      consumerManager: this.consumerManager,
      producerManager: this.producerManager,
      topicConfigManager: this.topicConfigManager,
      subscriptionGroupManager: this.subscriptionGroupManager,
      logger: this.logger,
      // A new %RETRY% topic must reach the NameServers before clients ask for its route.
      topicsChanged: () => this.registerBrokerAll(),
    }).registerTo(server);
    new LockBatchProcessor({ rebalanceLockManager: this.rebalanceLockManager, logger: this.logger }).registerTo(server);
    new ConsumerSendMsgBackProcessor(ctx).registerTo(server);

    // Transactions: the registry of ended transactions is rebuilt before END requests are served.
    const transactions = new TransactionalMessageService({
      store: ctx.store,
      storeHost: ctx.storeHost,
      delayLevelsMs: ctx.delayLevelsMs,
      clock: this.clock,
      logger: this.logger,
    });
    transactions.load();
    this.transactionService = transactions;
    new EndTransactionProcessor({ transactions, brokerPermission: () => this.brokerPermission, logger: this.logger }).registerTo(server);
  }

  private startServices(server: RemotingServer, ctx: BrokerContext): void {
    const hold = this.holdService!;
    hold.start();
    this.unsubscribers.push(ctx.store.onDispatch(hold.onDispatch));

    this.consumerManager.setListener(new ConsumerIdsChangeNotifier({ logger: this.logger }));
    const housekeeping = new ClientHousekeepingService({
      consumerManager: this.consumerManager,
      producerManager: this.producerManager,
      rebalanceLockManager: this.rebalanceLockManager,
      logger: this.logger,
      scanIntervalMs: this.opts.clientScanIntervalMs,
    });
    this.housekeeping = housekeeping;
    housekeeping.start();
    server.onChannelClose((channel: Channel) => {
      hold.onChannelClose(channel);
      housekeeping.onChannelClose(channel);
    });

    const schedule = new ScheduleMessageService({
      store: ctx.store,
      settings: this.settings,
      clock: this.clock,
      logger: this.logger,
    });
    this.scheduleService = schedule;
    schedule.start();

    const check = new TransactionCheckService({
      store: ctx.store,
      transactions: this.transactionService!,
      producers: this.producerManager,
      offsets: this.consumerOffsetManager,
      settings: this.settings,
      clock: this.clock,
      logger: this.logger,
    });
    this.transactionCheck = check;
    check.start();

    this.consumerOffsetManager.start();
  }

  // -------------------------------------------------------------------------------------------
  // NameServer registration

  private async startRegistration(): Promise<void> {
    const addrs = parseNamesrvAddr(this.settings.namesrvAddr);
    if (addrs.length === 0) {
      this.logger.warn('namesrvAddr is empty: the broker will not register with any NameServer');
      return;
    }
    this.namesrvClient = new RemotingClient({ logger: this.logger, maxFrameBytes: this.settings.maxFrameBytes });
    this.registrar = new NamesrvRegistrar(
      this.namesrvClient,
      addrs,
      {
        clusterName: this.settings.brokerClusterName,
        brokerName: this.settings.brokerName,
        brokerId: this.settings.brokerId,
        brokerAddr: this.brokerAddr,
        haServerAddr: `${this.settings.brokerIP1}:${this.boundPort + 1}`,
      },
      { logger: this.logger },
    );
    this.unsubscribers.push(this.topicConfigManager.onChange(() => this.scheduleRegister()));
    const periodMs = Math.max(MIN_REGISTER_PERIOD_MS, Math.min(this.settings.registerNameServerPeriod, MAX_REGISTER_PERIOD_MS));
    this.registerTimer = setInterval(() => void this.registerBrokerAll(), periodMs);
    this.registerTimer.unref();
    await this.registerBrokerAll();
  }

  /** Coalesces bursts of topic changes (e.g. many %RETRY% topics at once) into one registration. */
  private scheduleRegister(): void {
    if (this.state !== 'running' || this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.registerBrokerAll();
    }, this.opts.registerDebounceMs ?? DEFAULT_REGISTER_DEBOUNCE_MS);
    this.debounceTimer.unref();
  }

  /**
   * REGISTER_BROKER with the current topic table to every NameServer. Never throws. A call made while
   * one is in flight runs once more after it (so the newest table always lands).
   */
  async registerBrokerAll(): Promise<RegistrationOutcome[]> {
    const registrar = this.registrar;
    if (!registrar || this.state !== 'running') return [];
    if (this.registering) {
      this.registerAgain = true;
      return this.registering;
    }
    const run = async (): Promise<RegistrationOutcome[]> => {
      let outcomes: RegistrationOutcome[] = [];
      do {
        this.registerAgain = false;
        outcomes = await registrar.registerAll(this.topicConfigWrapper());
      } while (this.registerAgain && this.state === 'running');
      return outcomes;
    };
    this.registering = run().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  /** The registered table; a broker without WRITE/READ advertises every topic with its own (narrower) permission, like Java. */
  private topicConfigWrapper(): TopicConfigSerializeWrapper {
    const snap = this.topicConfigManager.snapshot();
    const perm = this.brokerPermission;
    if (isWriteable(perm) && isReadable(perm)) return snap;
    for (const [name, tc] of Object.entries(snap.topicConfigTable)) snap.topicConfigTable[name] = { ...tc, perm: tc.perm & perm };
    return snap;
  }

  // -------------------------------------------------------------------------------------------

  async shutdown(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    // Configs are written back only by a broker that fully started: a failed start (e.g. the store
    // directory locked by another broker) must not overwrite files it may not own.
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    const step = async (name: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.logger.error({ err }, `shutdown step failed: ${name}`);
      }
    };
    if (this.registerTimer) clearInterval(this.registerTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.registerTimer = undefined;
    this.debounceTimer = undefined;
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();

    // Held pulls get their (empty) answer while the connections are still open.
    await step('pull hold service', () => this.holdService?.shutdown());
    await step('remoting server', () => this.server?.close());
    await step('unregister', async () => {
      if (this.registering) await this.registering.catch(() => undefined);
      await this.registrar?.unregisterAll();
    });
    await step('namesrv client', () => this.namesrvClient?.close());
    await step('client housekeeping', () => this.housekeeping?.shutdown());
    await step('schedule service', () => this.scheduleService?.shutdown());
    await step('transaction check service', () => this.transactionCheck?.shutdown());
    if (wasRunning) {
      await step('consumer offsets', () => this.consumerOffsetManager.shutdown());
      await step('subscription groups', () => this.subscriptionGroupManager.persist());
      await step('topics', () => this.topicConfigManager.persist());
    }
    await step('store', () => this.messageStore?.shutdown());
    this.state = 'stopped';
    this.logger.info({ brokerAddr: this.brokerAddr }, 'broker stopped');
  }
}
