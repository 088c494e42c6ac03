/**
 * Tiny JSON-over-HTTP client for suites that drive a sample service (Node's fetch, bounded by a timeout).
 * A network failure (refused, reset, timeout) resolves as `{ status: 0, error }` rather than throwing,
 * because for a client under faults "no answer" is an outcome to record, not a bug in the test.
 */
export interface HttpResult<T = unknown> {
  /** HTTP status, or 0 when no answer arrived. */
  status: number;
  body: T | undefined;
  error?: string;
}

export async function httpJson<T = unknown>(method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = 10_000): Promise<HttpResult<T>> {
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { status: 0, body: undefined, error: e.cause?.code ?? e.name ?? String(err) };
  }
}
