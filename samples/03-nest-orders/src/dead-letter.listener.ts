/**
 * Dead letters of the inventory consumer: a message that failed INVENTORY_MAX_RECONSUME retries is
 * moved by the broker to `%DLQ%<inventory group>`. `@DlqListener` consumes that topic; this handler
 * records each dead letter (with the failure reason Rocketry stored on it) in `dead_letters`, where an
 * operator can look before replaying it (`rocketry admin dlqReplay` or `createDlqAdmin().replay`).
 */
import { Inject, Injectable } from '@nestjs/common';
import { deadLetterInfo, DlqListener, type MessageExt } from '@rocketry/framework';
import { RocketMessage, RocketPayload } from '@rocketry/nestjs';
import { appConfig } from './config';
import { OrdersRepository, type OrderCreatedEvent } from './orders.repository';

@Injectable()
export class DeadLetterListener {
  constructor(@Inject(OrdersRepository) private readonly orders: OrdersRepository) {}

  @DlqListener({ group: appConfig.inventoryGroup, consumerGroup: appConfig.deadLetterGroup })
  // Once one parameter has a Nest parameter decorator, every parameter needs one.
  async onDeadLetter(@RocketPayload() event: OrderCreatedEvent | undefined, @RocketMessage() msg: MessageExt): Promise<void> {
    const info = deadLetterInfo(msg);
    await this.orders.recordDeadLetter({ msgId: msg.msgId, orderId: event?.orderId, reconsumeTimes: info.reconsumeTimes, reason: info.reason });
  }
}
