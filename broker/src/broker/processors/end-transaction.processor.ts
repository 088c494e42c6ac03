/**
 * END_TRANSACTION (37), usually oneway (RocketMQ `EndTransactionProcessor`). commitOrRollback 8 commits,
 * 12 rolls back, 0 (and anything else) is ignored: the check service asks the producer later.
 * A oneway request gets no reply (the server drops what we return); a two-way one gets SUCCESS, or
 * SYSTEM_ERROR with RocketMQ's remark when the half does not match ("The producer group wrong",
 * "The transaction state table offset wrong", "Find prepared transaction message failed").
 */
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import { HeaderError } from '../../protocol/headers/header-schema';
import { EndTransactionRequestHeader } from '../../protocol/headers/transaction.headers';
import { MessageSysFlag, Perm, isWriteable } from '../constants';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { Channel, RequestProcessor } from '../../remoting/types';
import type { TransactionalMessageService } from '../transaction/transactional-message.service';

export interface EndTransactionProcessorDeps {
  transactions: TransactionalMessageService;
  /** Broker permission bits (writes refused without WRITE). Default: RW. */
  brokerPermission?: () => number;
  logger?: Logger;
}

export class EndTransactionProcessor {
  private readonly logger: Logger;

  constructor(private readonly deps: EndTransactionProcessorDeps) {
    this.logger = deps.logger ?? silentLogger;
  }

  registerTo(server: { registerProcessor(code: number, processor: RequestProcessor): void }): void {
    server.registerProcessor(RequestCode.END_TRANSACTION, this.process);
  }

  readonly process = async (request: RemotingCommand, channel: Channel): Promise<RemotingCommand> => {
    let header: EndTransactionRequestHeader;
    try {
      header = EndTransactionRequestHeader.decode(request.extFields);
    } catch (err) {
      if (err instanceof HeaderError) return createResponse(request, ResponseCode.SYSTEM_ERROR, err.message);
      throw err;
    }
    const perm = this.deps.brokerPermission?.() ?? Perm.READ | Perm.WRITE;
    if (!isWriteable(perm)) {
      return createResponse(request, ResponseCode.NO_PERMISSION, 'the broker is not writeable, end transaction is forbidden');
    }
    const action =
      header.commitOrRollback === MessageSysFlag.TRANSACTION_COMMIT_TYPE
        ? 'COMMIT'
        : header.commitOrRollback === MessageSysFlag.TRANSACTION_ROLLBACK_TYPE
          ? 'ROLLBACK'
          : undefined;
    if (!action) {
      this.logger.debug(
        { group: header.producerGroup, msgId: header.msgId, fromCheck: header.fromTransactionCheck === true, channel: channel.remoteAddress, remark: request.remark },
        'END_TRANSACTION with an unknown state, left to the check',
      );
      return createResponse(request, ResponseCode.SUCCESS);
    }
    const result = await this.deps.transactions.endTransaction({
      producerGroup: header.producerGroup,
      tranStateTableOffset: header.tranStateTableOffset,
      commitLogOffset: header.commitLogOffset,
      action,
      fromTransactionCheck: header.fromTransactionCheck,
    });
    return createResponse(request, result.code, result.remark);
  };
}
