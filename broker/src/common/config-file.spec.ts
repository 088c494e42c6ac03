import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonConfigFile, configFilePath, loadJsonFile, persistJsonFile } from './config-file';

describe('config-file', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-cfg-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips and keeps the previous version as .bak', () => {
    const file = configFilePath(dir, 'topics.json');
    expect(loadJsonFile(file)).toBeUndefined();
    persistJsonFile(file, { v: 1 });
    persistJsonFile(file, { v: 2 });
    expect(loadJsonFile<{ v: number }>(file)).toEqual({ v: 2 });
    expect(JSON.parse(fs.readFileSync(`${file}.bak`, 'utf8'))).toEqual({ v: 1 });
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
  });

  it('falls back to .bak when the file is corrupt or missing', () => {
    const file = configFilePath(dir, 'consumerOffset.json');
    persistJsonFile(file, { a: 1 });
    persistJsonFile(file, { a: 2 });
    fs.writeFileSync(file, '{"a": 3'); // torn write
    expect(loadJsonFile(file)).toEqual({ a: 1 });
    // a corrupt current file does not overwrite the good backup on the next persist
    persistJsonFile(file, { a: 4 });
    expect(loadJsonFile(file)).toEqual({ a: 4 });
    expect(JSON.parse(fs.readFileSync(`${file}.bak`, 'utf8'))).toEqual({ a: 1 });
    fs.rmSync(file);
    expect(loadJsonFile(file)).toEqual({ a: 1 });
  });

  it('JsonConfigFile returns the default when nothing is stored', () => {
    const cfg = new JsonConfigFile(configFilePath(dir, 'delayOffset.json'), () => ({ offsetTable: {} as Record<string, number> }));
    expect(cfg.load()).toEqual({ offsetTable: {} });
    cfg.persist({ offsetTable: { '1': 5 } });
    expect(cfg.load()).toEqual({ offsetTable: { '1': 5 } });
  });
});
