/**
 * A loopback TCP proxy the test controls, to make a dependency (Redis, a database) unavailable for a
 * while without touching the real server: point the app at `proxy.port` and call `cut()` / `restore()`.
 *
 *   cut('reset')     destroys every open connection and resets new ones at once (server down / refused)
 *   cut('blackhole') keeps accepting but forwards nothing and never answers (a hung network path)
 *   restore()        forwards again; connections cut earlier stay closed (clients reconnect)
 *
 * Counters tell a test that traffic really went through the proxy (and was really cut).
 */
import net from 'node:net';

export type CutMode = 'reset' | 'blackhole';

export interface TcpProxyStats {
  /** Connections accepted and forwarded. */
  forwarded: number;
  /** Connections destroyed by cut() or refused while cut. */
  refused: number;
  /** Bytes client → target and target → client. */
  bytesUp: number;
  bytesDown: number;
}

export interface TcpProxy {
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  readonly isCut: boolean;
  readonly stats: TcpProxyStats;
  /** Open forwarded connections. */
  connections(): number;
  cut(mode?: CutMode): void;
  restore(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
  /** Set when cut in blackhole mode: the close handlers must no longer drop the client. */
  held: boolean;
}

/** Starts a proxy on a free loopback port forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }, options: { port?: number } = {}): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  const held = new Set<net.Socket>();
  let mode: CutMode | undefined;
  const stats: TcpProxyStats = { forwarded: 0, refused: 0, bytesUp: 0, bytesDown: 0 };

  const dropPair = (p: Pair) => {
    if (p.held) return;
    pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  };

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (mode === 'reset') {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      // Accept and hold: reads nothing, answers nothing, until restore() or close() drops it.
      stats.refused++;
      held.add(client);
      client.once('close', () => held.delete(client));
      return;
    }
    const pair: Pair = { client, upstream: undefined, held: false };
    pairs.add(pair);
    stats.forwarded++;
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => dropPair(pair));
    client.on('close', () => dropPair(pair));
    upstream.on('close', () => dropPair(pair));
    client.on('data', (b: Buffer) => {
      stats.bytesUp += b.length;
    });
    upstream.on('data', (b: Buffer) => {
      stats.bytesDown += b.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    port,
    address: `127.0.0.1:${port}`,
    get isCut() {
      return mode !== undefined;
    },
    stats,
    connections: () => pairs.size,
    cut(m: CutMode = 'reset') {
      mode = m;
      for (const p of [...pairs]) {
        stats.refused++;
        if (m === 'reset') {
          p.client.resetAndDestroy();
          p.upstream?.destroy();
          pairs.delete(p);
        } else {
          // Blackhole: stop forwarding in both directions but keep the client socket open.
          p.held = true;
          p.client.unpipe();
          p.upstream?.unpipe();
          p.upstream?.destroy();
          p.client.removeAllListeners('data');
          p.client.pause();
          pairs.delete(p);
          held.add(p.client);
          p.client.once('close', () => held.delete(p.client));
        }
      }
    },
    restore() {
      mode = undefined;
      // Held (blackholed) sockets are closed so clients notice and reconnect.
      for (const s of [...held]) s.destroy();
      held.clear();
    },
    async close() {
      for (const p of [...pairs]) dropPair(p);
      for (const s of [...held]) s.destroy();
      held.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
