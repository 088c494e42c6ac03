/**
 * Test helpers for remoting specs (and other modules' specs): a raw socket that reads frames, and a
 * port nobody listens on.
 */
import * as net from 'node:net';
import { FrameSplitter, decodeCommand, type RemotingCommand } from '../protocol/remoting-command';

export interface RawPeer {
  socket: net.Socket;
  frames: RemotingCommand[];
  /** Raw first bytes of every frame (type byte check). */
  rawFrames: Buffer[];
  closed: Promise<void>;
  /** Resolves once `count` frames have arrived. */
  waitFrames(count: number, timeoutMs?: number): Promise<RemotingCommand[]>;
}

export async function connectRaw(port: number, host = '127.0.0.1'): Promise<RawPeer> {
  const socket = net.connect({ port, host });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  return wrapRaw(socket);
}

export function wrapRaw(socket: net.Socket): RawPeer {
  const splitter = new FrameSplitter();
  const frames: RemotingCommand[] = [];
  const rawFrames: Buffer[] = [];
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    for (const frame of splitter.push(chunk)) {
      rawFrames.push(frame);
      frames.push(decodeCommand(frame));
    }
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    frames,
    rawFrames,
    closed,
    waitFrames(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`only ${frames.length}/${count} frames arrived`)), timeoutMs);
        const check = () => {
          if (frames.length >= count) {
            clearTimeout(deadline);
            resolve(frames.slice(0, count));
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** A TCP port that was free a moment ago and has nothing listening now. */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
