/**
 * The broker's topic table (`TopicConfigManager.java`): which topics exist here, their queue counts,
 * permissions and filter type. Persisted to `<storePathRootDir>/config/topics.json` together with a
 * DataVersion that the NameServer registration carries, and announced to listeners on every change
 * so the controller re-registers at once (clients see new topics, e.g. `%RETRY%<group>`, quickly).
 */
import type { Logger } from '../common/logger';
import { silentLogger } from '../common/logger';
import type { Clock } from '../common/clock';
import { systemClock } from '../common/clock';
import type { BrokerSettings } from '../config';
import { parseDelayLevels } from '../config';
import { configFilePath, loadJsonFile, persistJsonFile } from '../common/config-file';
import {
  DLQ_GROUP_TOPIC_PREFIX,
  Perm,
  RETRY_GROUP_TOPIC_PREFIX,
  SystemTopic,
  isInherited,
} from './constants';

export type TopicFilterType = 'SINGLE_TAG' | 'MULTI_TAG';

/** `TopicConfig.java`, field names as they travel in REGISTER_BROKER / GET_ALL_TOPIC_CONFIG bodies. */
export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: TopicFilterType;
  topicSysFlag: number;
  order: boolean;
  attributes: Record<string, string>;
}

/** `DataVersion.java`: bumped on every topic-table change; the NameServer compares it. */
export interface DataVersion {
  stateVersion: number;
  timestamp: number;
  counter: number;
}

/** On-disk shape of topics.json (the Java `TopicConfigSerializeWrapper` without the mapping parts). */
export interface TopicConfigFile {
  topicConfigTable: Record<string, TopicConfig>;
  dataVersion: DataVersion;
}

export const TOPIC_MAX_LENGTH = 127;
/** 5.x allows longer retry/DLQ names (`TopicValidator`); records then use V2 magic, which ali-ons cannot read. */
export const RETRY_OR_DLQ_TOPIC_MAX_LENGTH = 255;
const TOPIC_CHARS = /^[%|a-zA-Z0-9_-]+$/;

/** Topics producers may not send to directly (`TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET`). */
export const NOT_ALLOWED_SEND_TOPICS: ReadonlySet<string> = new Set([
  SystemTopic.SCHEDULE,
  SystemTopic.TRANS_HALF,
  SystemTopic.TRANS_OP_HALF,
  SystemTopic.TRANS_CHECK_MAX_TIME,
  SystemTopic.SELF_TEST,
  SystemTopic.OFFSET_MOVED_EVENT,
]);

/** Returns why a topic name is invalid, or undefined when it is fine (`TopicValidator.validateTopic`). */
export function validateTopicName(topic: string | undefined): string | undefined {
  if (topic === undefined || topic.trim() === '') return 'The specified topic is blank.';
  if (!TOPIC_CHARS.test(topic)) return `The specified topic[${topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$`;
  const max = topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(DLQ_GROUP_TOPIC_PREFIX)
    ? RETRY_OR_DLQ_TOPIC_MAX_LENGTH
    : TOPIC_MAX_LENGTH;
  if (topic.length > max) return `The specified topic[${topic}] is longer than topic max length ${max}.`;
  return undefined;
}

export class InvalidTopicNameError extends Error {
  constructor(readonly topic: string, reason: string) {
    super(reason);
    this.name = 'InvalidTopicNameError';
  }
}

function assertValidTopicName(topic: string): void {
  const invalid = validateTopicName(topic);
  if (invalid !== undefined) throw new InvalidTopicNameError(topic, invalid);
}

export function isNotAllowedSendTopic(topic: string): boolean {
  return NOT_ALLOWED_SEND_TOPICS.has(topic);
}

export function newTopicConfig(topicName: string, queueNums: number, perm: number = Perm.READ | Perm.WRITE): TopicConfig {
  return {
    topicName,
    readQueueNums: queueNums,
    writeQueueNums: queueNums,
    perm,
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: 0,
    order: false,
    attributes: {},
  };
}

export type TopicConfigSettings = Pick<
  BrokerSettings,
  'storePathRootDir' | 'brokerClusterName' | 'brokerName' | 'defaultTopicQueueNums' | 'autoCreateTopicEnable' | 'messageDelayLevel'
>;

/** Bound on topics created by producers' sends (auto-create), so clients cannot grow the table without limit. */
export const DEFAULT_MAX_AUTO_CREATED_TOPICS = 100_000;

export type TopicChangeListener = (changed: TopicConfig[]) => void;

export class TopicConfigManager {
  private readonly table = new Map<string, TopicConfig>();
  private readonly systemTopics = new Set<string>();
  private version: DataVersion;
  private readonly listeners = new Set<TopicChangeListener>();
  private readonly filePath: string;
  private readonly logger: Logger;
  private readonly clock: Clock;

  private readonly maxTopics: number;

  constructor(
    private readonly settings: TopicConfigSettings,
    opts: { logger?: Logger; clock?: Clock; maxTopics?: number } = {},
  ) {
    this.maxTopics = opts.maxTopics ?? DEFAULT_MAX_AUTO_CREATED_TOPICS;
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.filePath = configFilePath(settings.storePathRootDir, 'topics.json');
    this.version = { stateVersion: 0, timestamp: this.clock.now(), counter: 0 };
  }

  /** Loads topics.json, then (re)adds the system topics. Call once before serving. */
  load(): void {
    const stored = loadJsonFile<TopicConfigFile>(this.filePath);
    if (stored?.topicConfigTable) {
      for (const [name, tc] of Object.entries(stored.topicConfigTable)) {
        if (validateTopicName(name) !== undefined) continue;
        this.table.set(name, normaliseTopicConfig(name, tc));
      }
      if (stored.dataVersion) this.version = { ...stored.dataVersion };
    }
    this.addSystemTopics();
    this.persist();
  }

  private addSystemTopics(): void {
    const s = this.settings;
    const add = (tc: TopicConfig) => {
      this.systemTopics.add(tc.topicName);
      // Keep an operator's stored values for topics that already exist (e.g. more TBW102 queues).
      if (!this.table.has(tc.topicName)) this.table.set(tc.topicName, tc);
    };
    if (s.autoCreateTopicEnable) {
      add(newTopicConfig(SystemTopic.AUTO_CREATE_TOPIC_KEY, s.defaultTopicQueueNums, Perm.READ | Perm.WRITE | Perm.INHERIT));
    }
    add(newTopicConfig(SystemTopic.SELF_TEST, 1));
    add({ ...newTopicConfig(s.brokerClusterName, 16), perm: Perm.READ | Perm.WRITE | Perm.INHERIT });
    add({ ...newTopicConfig(s.brokerName, 1), perm: Perm.READ | Perm.WRITE | Perm.INHERIT });
    add(newTopicConfig(SystemTopic.OFFSET_MOVED_EVENT, 1));
    add(newTopicConfig(SystemTopic.SCHEDULE, parseDelayLevels(s.messageDelayLevel).length));
    add(newTopicConfig(SystemTopic.TRANS_HALF, 1));
    add(newTopicConfig(SystemTopic.TRANS_OP_HALF, 1));
    add(newTopicConfig(SystemTopic.TRANS_CHECK_MAX_TIME, 1));
    // The delay topic must always have one queue per level, also after messageDelayLevel grew.
    const schedule = this.table.get(SystemTopic.SCHEDULE);
    const levels = parseDelayLevels(s.messageDelayLevel).length;
    if (schedule && (schedule.readQueueNums < levels || schedule.writeQueueNums < levels)) {
      this.table.set(SystemTopic.SCHEDULE, { ...schedule, readQueueNums: levels, writeQueueNums: levels });
    }
  }

  /** Writes topics.json atomically. */
  persist(): void {
    persistJsonFile(this.filePath, this.snapshot());
  }

  snapshot(): TopicConfigFile {
    const topicConfigTable: Record<string, TopicConfig> = {};
    for (const [name, tc] of this.table) topicConfigTable[name] = tc;
    return { topicConfigTable, dataVersion: { ...this.version } };
  }

  get dataVersion(): DataVersion {
    return { ...this.version };
  }

  selectTopicConfig(topic: string): TopicConfig | undefined {
    return this.table.get(topic);
  }

  /** All topics, keyed by name (a copy; safe to iterate while the table changes). */
  allTopicConfigs(): Map<string, TopicConfig> {
    return new Map(this.table);
  }

  isSystemTopic(topic: string): boolean {
    return this.systemTopics.has(topic);
  }

  /** Calls `listener` with the changed configs after every change; returns an unsubscribe function. */
  onChange(listener: TopicChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Creates or replaces a topic (UPDATE_AND_CREATE_TOPIC), persists and notifies. Throws on an invalid name. */
  updateTopicConfig(tc: TopicConfig): void {
    assertValidTopicName(tc.topicName);
    const normalised = normaliseTopicConfig(tc.topicName, tc);
    const old = this.table.get(tc.topicName);
    this.table.set(tc.topicName, normalised);
    this.logger.info({ topic: tc.topicName, old, now: normalised }, old ? 'topic config updated' : 'topic config created');
    this.changed([normalised]);
  }

  deleteTopicConfig(topic: string): boolean {
    if (!this.table.delete(topic)) return false;
    this.logger.info({ topic }, 'topic config deleted');
    this.changed([]);
    return true;
  }

  /**
   * SEND path: auto-creates `topic` from the `defaultTopic` template (`createTopicInSendMessageMethod`).
   * Works only when the template exists and has PERM_INHERIT (TBW102 has it only with autoCreateTopicEnable).
   * Queues = min(requested, template write queues); perm = template perm without INHERIT.
   * Returns the existing or new config, or undefined when nothing could be created.
   */
  createTopicInSendMessageMethod(
    topic: string,
    defaultTopic: string,
    remoteAddress: string,
    clientDefaultTopicQueueNums: number,
    topicSysFlag = 0,
  ): TopicConfig | undefined {
    const existing = this.table.get(topic);
    if (existing) return existing;
    if (validateTopicName(topic) !== undefined) return undefined;
    if (this.table.size >= this.maxTopics) {
      this.logger.warn({ topic, topics: this.table.size }, 'auto-create topic refused: topic table is full');
      return undefined;
    }
    const template = this.table.get(defaultTopic);
    if (!template) {
      this.logger.warn({ topic, defaultTopic, remoteAddress }, 'auto-create topic: template topic does not exist');
      return undefined;
    }
    if (defaultTopic === SystemTopic.AUTO_CREATE_TOPIC_KEY && !this.settings.autoCreateTopicEnable) return undefined;
    if (!isInherited(template.perm)) {
      this.logger.warn({ topic, defaultTopic, perm: template.perm, remoteAddress }, 'auto-create topic: template has no INHERIT permission');
      return undefined;
    }
    const requested = clientDefaultTopicQueueNums > 0 ? clientDefaultTopicQueueNums : template.writeQueueNums;
    const queueNums = Math.max(1, Math.min(requested, template.writeQueueNums));
    const tc: TopicConfig = {
      ...newTopicConfig(topic, queueNums, template.perm & ~Perm.INHERIT),
      topicSysFlag,
      topicFilterType: template.topicFilterType,
    };
    this.table.set(topic, tc);
    this.logger.info({ topic, defaultTopic, queueNums, remoteAddress }, 'topic auto-created on send');
    this.changed([tc]);
    return tc;
  }

  /** Retry / DLQ / other internal topics: created with `queueNums` queues if missing (`createTopicInSendMessageBackMethod`). */
  createTopicInSendMessageBackMethod(
    topic: string,
    queueNums: number,
    perm: number = Perm.READ | Perm.WRITE,
    topicSysFlag = 0,
  ): TopicConfig {
    const existing = this.table.get(topic);
    if (existing) return existing;
    // Names reach the file system (consumequeue/<topic>/); a group name from a client must not escape it.
    assertValidTopicName(topic);
    const tc: TopicConfig = { ...newTopicConfig(topic, Math.max(1, queueNums), perm), topicSysFlag };
    this.table.set(topic, tc);
    this.logger.info({ topic, queueNums }, 'internal topic created');
    this.changed([tc]);
    return tc;
  }

  private changed(configs: TopicConfig[]): void {
    this.version = {
      stateVersion: this.version.stateVersion,
      timestamp: this.clock.now(),
      counter: this.version.counter + 1,
    };
    this.persist();
    for (const listener of this.listeners) {
      try {
        listener(configs);
      } catch (err) {
        this.logger.error({ err }, 'topic change listener failed');
      }
    }
  }
}

function normaliseTopicConfig(name: string, raw: Partial<TopicConfig>): TopicConfig {
  const queues = (v: unknown, fallback: number) => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : fallback);
  const read = queues(raw.readQueueNums, 4);
  return {
    topicName: name,
    readQueueNums: read,
    writeQueueNums: queues(raw.writeQueueNums, read),
    perm: Number.isInteger(raw.perm) ? (raw.perm as number) : Perm.READ | Perm.WRITE,
    topicFilterType: raw.topicFilterType === 'MULTI_TAG' ? 'MULTI_TAG' : 'SINGLE_TAG',
    topicSysFlag: Number.isInteger(raw.topicSysFlag) ? (raw.topicSysFlag as number) : 0,
    order: raw.order === true,
    attributes: raw.attributes && typeof raw.attributes === 'object' ? { ...raw.attributes } : {},
  };
}
