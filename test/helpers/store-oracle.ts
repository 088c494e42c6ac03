/**
 * Offline, independent check of a stopped store directory (remoting-protocol.md §4):
 *   <root>/commitlog/<20-digit start offset>            records back to back, BLANK filler at file ends
 *   <root>/consumequeue/<topic>/<queueId>/<20-digit>    20-byte units: phyOffset int64 | size int32 | tagsCode int64
 * It walks every CommitLog record (CRC, physical offset, layout) and checks that the ConsumeQueues
 * and the CommitLog agree both ways. Read whole files, so use small segment sizes in tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeRecord, MAGIC_BLANK, type OracleRecord } from './record-oracle';

export const CQ_UNIT_BYTES = 20;
/** Size of a padding unit (RocketMQ `fillPreBlank`): a hole, not a message. */
export const CQ_PAD_SIZE = 0x7fffffff;
const SCHEDULE_TOPIC = 'SCHEDULE_TOPIC_XXXX';

/** Java String.hashCode (int32 over UTF-16 code units). */
export function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** The directory holding `commitlog/` under `dataDir` (itself, or up to 3 levels below). */
export function findStoreRoot(dataDir: string): string {
  const queue: Array<{ dir: string; depth: number }> = [{ dir: dataDir, depth: 0 }];
  while (queue.length > 0) {
    const { dir, depth } = queue.shift()!;
    if (fs.existsSync(path.join(dir, 'commitlog'))) return dir;
    if (depth >= 3) continue;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) queue.push({ dir: path.join(dir, e.name), depth: depth + 1 });
  }
  throw new Error(`no commitlog directory under ${dataDir}`);
}

export interface StoredRecord extends Omit<OracleRecord, 'body'> {
  bodyLength: number;
}

export interface CommitLogScan {
  records: StoredRecord[];
  /** Problems found while walking (bad CRC, bad magic, wrong PHYSICALOFFSET, junk after the end). */
  problems: string[];
  /** First offset after the last record. */
  endOffset: number;
}

function segmentFiles(dir: string): Array<{ start: number; file: string }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}$/.test(n))
    .sort()
    .map((n) => ({ start: Number(n), file: path.join(dir, n) }));
}

/** Walks every record of every CommitLog segment. */
export function scanCommitLog(root: string, maxProblems = 50): CommitLogScan {
  const records: StoredRecord[] = [];
  const problems: string[] = [];
  const note = (p: string) => {
    if (problems.length < maxProblems) problems.push(p);
  };
  let endOffset = 0;
  const files = segmentFiles(path.join(root, 'commitlog'));
  for (let fi = 0; fi < files.length; fi++) {
    const { start, file } = files[fi]!;
    const buf = fs.readFileSync(file);
    let pos = 0;
    while (pos + 8 <= buf.length) {
      const size = buf.readInt32BE(pos);
      const magic = buf.readInt32BE(pos + 4);
      if (size === 0 && magic === 0) break; // end of written data in this segment
      if (magic === MAGIC_BLANK) {
        if (pos + size !== buf.length) note(`${path.basename(file)}@${pos}: BLANK of ${size} bytes does not reach the file end (${buf.length})`);
        pos = buf.length;
        break;
      }
      let rec: OracleRecord;
      try {
        rec = decodeRecord(buf, pos);
      } catch (err) {
        note(`${path.basename(file)}@${pos}: ${(err as Error).message}`);
        break;
      }
      if (!rec.crcOk) note(`record @${start + pos} (${rec.topic}/${rec.queueId}#${rec.queueOffset}): BODYCRC mismatch`);
      if (rec.physicalOffset !== start + pos) note(`record @${start + pos}: PHYSICALOFFSET says ${rec.physicalOffset}`);
      const { body, ...meta } = rec;
      records.push({ ...meta, bodyLength: body.length });
      pos += rec.totalSize;
      endOffset = start + pos;
    }
    // Anything non-zero after the last record of the LAST segment is a torn/unaccounted tail.
    if (fi === files.length - 1 && pos < buf.length) {
      const rest = buf.subarray(pos);
      if (rest.some((b) => b !== 0)) note(`${path.basename(file)}: non-zero bytes after the last record at ${pos}`);
    }
  }
  return { records, problems, endOffset };
}

export interface CqEntry {
  phyOffset: number;
  size: number;
  tagsCode: number;
}

/** Reads one ConsumeQueue (all its files) up to the first empty unit. */
export function readConsumeQueue(root: string, topic: string, queueId: number): CqEntry[] {
  const out: CqEntry[] = [];
  for (const { file } of segmentFiles(path.join(root, 'consumequeue', topic, String(queueId)))) {
    const buf = fs.readFileSync(file);
    for (let p = 0; p + CQ_UNIT_BYTES <= buf.length; p += CQ_UNIT_BYTES) {
      const phyOffset = Number(buf.readBigInt64BE(p));
      const size = buf.readInt32BE(p + 8);
      const tagsCode = Number(buf.readBigInt64BE(p + 12));
      if (size === 0 && phyOffset === 0 && tagsCode === 0) return out;
      out.push({ phyOffset, size, tagsCode });
    }
  }
  return out;
}

export function listConsumeQueues(root: string): Array<{ topic: string; queueId: number }> {
  const base = path.join(root, 'consumequeue');
  if (!fs.existsSync(base)) return [];
  const out: Array<{ topic: string; queueId: number }> = [];
  for (const topic of fs.readdirSync(base)) {
    for (const q of fs.readdirSync(path.join(base, topic))) if (/^\d+$/.test(q)) out.push({ topic, queueId: Number(q) });
  }
  return out;
}

/** CommitLog walk + ConsumeQueue ⇄ CommitLog agreement. Returns the problems (empty = consistent). */
export function verifyStoreOffline(root: string): { scan: CommitLogScan; problems: string[] } {
  const scan = scanCommitLog(root);
  const problems = [...scan.problems];
  const note = (p: string) => {
    if (problems.length < 100) problems.push(p);
  };
  const byPhy = new Map<number, StoredRecord>();
  for (const r of scan.records) byPhy.set(r.physicalOffset, r);
  const expected = new Map<string, StoredRecord[]>();
  for (const r of scan.records) {
    const tx = r.sysFlag & 0xc;
    if (tx === 0x4 || tx === 0xc) continue; // PREPARED / ROLLBACK records have no CQ entry
    const k = `${r.topic}\u0000${r.queueId}`;
    const list = expected.get(k) ?? [];
    list.push(r);
    expected.set(k, list);
  }
  const seenQueues = new Set<string>();
  for (const { topic, queueId } of listConsumeQueues(root)) {
    const k = `${topic}\u0000${queueId}`;
    seenQueues.add(k);
    const cq = readConsumeQueue(root, topic, queueId);
    const recs = expected.get(k) ?? [];
    if (cq.length !== recs.length) note(`CQ ${topic}/${queueId}: ${cq.length} entries, CommitLog has ${recs.length} records`);
    const realEntries = cq.filter((e) => e.size !== CQ_PAD_SIZE).length;
    if (realEntries !== cq.length) note(`CQ ${topic}/${queueId}: ${cq.length - realEntries} padding units (holes) in a store that never deleted files`);
    cq.forEach((e, i) => {
      if (e.size === CQ_PAD_SIZE) return;
      const r = byPhy.get(e.phyOffset);
      if (!r) return note(`CQ ${topic}/${queueId}#${i}: points at ${e.phyOffset}, no record there`);
      if (r.topic !== topic || r.queueId !== queueId) note(`CQ ${topic}/${queueId}#${i}: record there is ${r.topic}/${r.queueId}`);
      if (r.queueOffset !== i) note(`CQ ${topic}/${queueId}#${i}: record there has QUEUEOFFSET ${r.queueOffset}`);
      if (r.totalSize !== e.size) note(`CQ ${topic}/${queueId}#${i}: size ${e.size}, record is ${r.totalSize}`);
      if (topic !== SCHEDULE_TOPIC) {
        const tags = r.properties.TAGS;
        const want = tags ? javaHashCode(tags) : 0;
        if (e.tagsCode !== want) note(`CQ ${topic}/${queueId}#${i}: tagsCode ${e.tagsCode}, hash(${tags}) = ${want}`);
      }
    });
  }
  for (const [k, recs] of expected) {
    if (!seenQueues.has(k)) note(`CommitLog has ${recs.length} records for ${k.replace('\u0000', '/')} but there is no ConsumeQueue`);
  }
  return { scan, problems };
}
