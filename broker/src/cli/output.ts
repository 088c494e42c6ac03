/** Where command handlers print; tests capture it instead of stdout. */
export interface Output {
  line(text: string): void;
  json(value: unknown): void;
}

export const stdoutOutput: Output = {
  line: (text) => process.stdout.write(`${text}\n`),
  json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
};

/** Collects lines in memory (specs). */
export function memoryOutput(): Output & { lines: string[]; text(): string } {
  const lines: string[] = [];
  return {
    lines,
    line: (text) => lines.push(...text.split('\n')),
    json: (value) => lines.push(...JSON.stringify(value, null, 2).split('\n')),
    text: () => lines.join('\n'),
  };
}

/** `yyyy-MM-dd HH:mm:ss.SSS` in local time, like mqadmin. */
export function formatTimestamp(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '-';
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
