/** An in-memory Channel for client-table specs: records what the broker sends it. */
import type { RemotingCommand } from '../../protocol/remoting-command';
import type { Channel } from '../../remoting/types';

let seq = 0;

export class FakeChannel implements Channel {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remoteHost = '10.0.0.1';
  readonly remotePort: number;
  readonly localAddress = '127.0.0.1:10911';
  closed = false;
  closeReason: string | undefined;
  lastActiveAt = 0;
  readonly written: RemotingCommand[] = [];
  readonly oneways: RemotingCommand[] = [];

  constructor(name?: string) {
    seq++;
    this.remotePort = 40000 + seq;
    this.remoteAddress = `${this.remoteHost}:${this.remotePort}`;
    this.id = name ?? `${this.remoteAddress}#${seq}`;
  }

  write(cmd: RemotingCommand): void {
    this.written.push(cmd);
  }
  invoke(): Promise<RemotingCommand> {
    return Promise.reject(new Error('FakeChannel.invoke not supported'));
  }
  invokeOneway(cmd: RemotingCommand): void {
    if (this.closed) throw new Error('closed');
    this.oneways.push(cmd);
  }
  close(reason?: string): void {
    this.closed = true;
    this.closeReason = reason;
  }
}
