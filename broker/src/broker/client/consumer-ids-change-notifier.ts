/**
 * The production ConsumerIdsChangeListener (`DefaultConsumerIdsChangeListener` + `Broker2Client`): on any
 * membership or subscription change, every channel of the group gets a oneway
 * NOTIFY_CONSUMER_IDS_CHANGED (header `consumerGroup`), and the Java/Go clients rebalance at once.
 * ali-ons ignores broker-initiated requests; it rebalances on its own 10 s tick.
 */
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import type { Channel } from '../../remoting/types';
import type { ConsumerIdsChangeListener } from './consumer-manager';

export class ConsumerIdsChangeNotifier implements ConsumerIdsChangeListener {
  constructor(
    private readonly opts: { logger?: Logger; enabled?: () => boolean } = {},
  ) {}

  onConsumerIdsChanged(group: string, channels: readonly Channel[]): void {
    if (this.opts.enabled && !this.opts.enabled()) return;
    for (const channel of channels) notifyConsumerIdsChanged(channel, group, this.opts.logger ?? silentLogger);
  }
}

/** Sends one oneway NOTIFY_CONSUMER_IDS_CHANGED; a closed or failing channel is logged and skipped. */
export function notifyConsumerIdsChanged(channel: Channel, group: string, logger: Logger = silentLogger): void {
  if (channel.closed) return;
  try {
    channel.invokeOneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group }, undefined, true));
  } catch (err) {
    logger.warn({ err, group, channel: channel.remoteAddress }, 'notify consumer ids changed failed');
  }
}
