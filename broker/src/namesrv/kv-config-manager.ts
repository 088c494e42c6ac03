/**
 * NameServer KV config (`KVConfigManager.java`): namespace → key → value, persisted as
 * `{"configTable":{"ns":{"k":"v"}}}` at `kvConfigPath` after every change (tmp + fsync + rename).
 */
import * as fs from 'node:fs';
import { persistTextFile } from '../common/config-file';
import { silentLogger, type Logger } from '../common/logger';

/** RocketMQ's namespace for `topic → "brokerName:queueNums;…"` entries of ordered topics. */
export const NAMESPACE_ORDER_TOPIC_CONFIG = 'ORDER_TOPIC_CONFIG';

interface KvConfigFile {
  configTable?: Record<string, Record<string, string>>;
}

export class KvConfigManager {
  private readonly table = new Map<string, Map<string, string>>();

  constructor(
    private readonly filePath: string,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** Loads the file if it exists. A corrupt file is an error: the operator must look at it. */
  load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.filePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (text.trim() === '') return;
    const parsed = JSON.parse(text) as KvConfigFile;
    this.table.clear();
    for (const [ns, entries] of Object.entries(parsed.configTable ?? {})) {
      const map = new Map<string, string>();
      for (const [k, v] of Object.entries(entries ?? {})) map.set(k, String(v));
      this.table.set(ns, map);
    }
    this.logger.info({ file: this.filePath, namespaces: this.table.size }, 'KV config loaded');
  }

  put(namespace: string, key: string, value: string): void {
    let map = this.table.get(namespace);
    if (!map) {
      map = new Map();
      this.table.set(namespace, map);
    }
    if (map.get(key) === value) return;
    map.set(key, value);
    this.persist();
  }

  get(namespace: string, key: string): string | undefined {
    return this.table.get(namespace)?.get(key);
  }

  delete(namespace: string, key: string): void {
    const map = this.table.get(namespace);
    if (!map?.delete(key)) return;
    if (map.size === 0) this.table.delete(namespace);
    this.persist();
  }

  /** All entries of a namespace, or undefined when it has none. */
  list(namespace: string): Record<string, string> | undefined {
    const map = this.table.get(namespace);
    if (!map || map.size === 0) return undefined;
    return Object.fromEntries(map);
  }

  private persist(): void {
    const configTable: Record<string, Record<string, string>> = {};
    for (const [ns, map] of this.table) configTable[ns] = Object.fromEntries(map);
    persistTextFile(this.filePath, JSON.stringify({ configTable }));
  }
}
