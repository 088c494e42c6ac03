/** END_TRANSACTION (37, producer → broker, oneway) and CHECK_TRANSACTION_STATE (39, broker → producer, oneway). */
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

export const EndTransactionRequestHeader = defineHeader({
  topic: opt.string,
  producerGroup: req.string,
  /** Half message's queue offset. */
  tranStateTableOffset: req.long,
  /** Half message's physical offset. */
  commitLogOffset: req.long,
  /** MessageSysFlag transaction type: 0 unknown, 8 commit, 12 rollback. */
  commitOrRollback: req.int,
  fromTransactionCheck: opt.boolean,
  /** UNIQ_KEY. */
  msgId: req.string,
  transactionId: opt.string,
});
export type EndTransactionRequestHeader = HeaderOf<typeof EndTransactionRequestHeader.schema>;

export const CheckTransactionStateRequestHeader = defineHeader({
  topic: opt.string,
  tranStateTableOffset: req.long,
  commitLogOffset: req.long,
  msgId: opt.string,
  transactionId: opt.string,
  offsetMsgId: opt.string,
});
export type CheckTransactionStateRequestHeader = HeaderOf<typeof CheckTransactionStateRequestHeader.schema>;
