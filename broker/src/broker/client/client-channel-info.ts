/**
 * One client connection as the broker's client tables see it (`ClientChannelInfo.java`): the channel,
 * the client's id (`ip@instanceName[@unitName]`), the language/version it announced in its last
 * heartbeat, and when it last heartbeated (drives idle expiry).
 */
import type { Channel } from '../../remoting/types';

export interface ClientChannelInfo {
  channel: Channel;
  clientId: string;
  language: string;
  version: number;
  /** Epoch ms (Clock seam) of the last heartbeat / registration over this channel. */
  lastUpdateTimestamp: number;
}

/** RocketMQ's `channelExpiredTimeout`: a client not heard from for this long is dropped. */
export const DEFAULT_CHANNEL_EXPIRED_TIMEOUT_MS = 120_000;
