/**
 * Orderly-consumer queue locks (`AdminBrokerProcessor.lockBatchMQ / unlockBatchMQ`):
 *
 *   41 LOCK_BATCH_MQ    body {"consumerGroup","clientId","onlyThisBroker","mqSet":[{topic,brokerName,queueId}]}
 *                       → SUCCESS + {"lockOKMQSet":[...]} (the queues this client now holds)
 *   42 UNLOCK_BATCH_MQ  same body → SUCCESS (the client may send it oneway; then nothing is sent back)
 */
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { RequestProcessor } from '../../remoting/types';
import type { MessageQueue, RebalanceLockManager } from '../client/rebalance-lock-manager';

export const LOCK_BATCH_REQUEST_CODES: readonly number[] = [RequestCode.LOCK_BATCH_MQ, RequestCode.UNLOCK_BATCH_MQ];

/** Bound on queues per request (a consumer asks only for its assigned queues). */
export const MAX_MQS_PER_LOCK_REQUEST = 65_536;

export interface LockBatchRequestBody {
  consumerGroup: string;
  clientId: string;
  onlyThisBroker: boolean;
  mqSet: MessageQueue[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a lock/unlock body; a string explains what is wrong. */
export function parseLockBatchBody(body: Buffer | undefined): LockBatchRequestBody | string {
  if (!body || body.length === 0) return 'the lock request has no body';
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the lock request body is not valid JSON';
  }
  if (!isObject(raw)) return 'the lock request body is not an object';
  const consumerGroup = typeof raw.consumerGroup === 'string' ? raw.consumerGroup : '';
  const clientId = typeof raw.clientId === 'string' ? raw.clientId : '';
  if (!consumerGroup || !clientId) return 'the lock request needs consumerGroup and clientId';
  const rawSet = Array.isArray(raw.mqSet) ? raw.mqSet : [];
  if (rawSet.length > MAX_MQS_PER_LOCK_REQUEST) return `the lock request has more than ${MAX_MQS_PER_LOCK_REQUEST} queues`;
  const mqSet: MessageQueue[] = [];
  const seen = new Set<string>();
  for (const mq of rawSet) {
    if (!isObject(mq) || typeof mq.topic !== 'string' || typeof mq.brokerName !== 'string') continue;
    const queueId = Number(mq.queueId);
    if (!Number.isInteger(queueId)) continue;
    const key = `${mq.topic}@${mq.brokerName}@${queueId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    mqSet.push({ topic: mq.topic, brokerName: mq.brokerName, queueId });
  }
  return { consumerGroup, clientId, onlyThisBroker: raw.onlyThisBroker === true, mqSet };
}

export class LockBatchProcessor {
  private readonly logger: Logger;

  constructor(private readonly deps: { rebalanceLockManager: RebalanceLockManager; logger?: Logger }) {
    this.logger = deps.logger ?? silentLogger;
  }

  registerTo(server: { registerProcessor(code: number, processor: RequestProcessor): void }): void {
    for (const code of LOCK_BATCH_REQUEST_CODES) server.registerProcessor(code, this.processRequest);
  }

  readonly processRequest: RequestProcessor = (request) => {
    if (request.code === RequestCode.LOCK_BATCH_MQ) return this.lockBatch(request);
    if (request.code === RequestCode.UNLOCK_BATCH_MQ) return this.unlockBatch(request);
    return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${request.code} not supported`);
  };

  lockBatch(request: RemotingCommand): RemotingCommand {
    const body = parseLockBatchBody(request.body);
    if (typeof body === 'string') return createResponse(request, ResponseCode.SYSTEM_ERROR, body);
    const locked = this.deps.rebalanceLockManager.tryLockBatch(body.consumerGroup, body.mqSet, body.clientId);
    if (locked.length < body.mqSet.length) {
      this.logger.debug({ group: body.consumerGroup, clientId: body.clientId, asked: body.mqSet.length, granted: locked.length }, 'lock batch partly granted');
    }
    const lockOKMQSet = locked.map((mq) => ({ brokerName: mq.brokerName, queueId: mq.queueId, topic: mq.topic }));
    return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, Buffer.from(JSON.stringify({ lockOKMQSet })));
  }

  unlockBatch(request: RemotingCommand): RemotingCommand {
    const body = parseLockBatchBody(request.body);
    if (typeof body === 'string') return createResponse(request, ResponseCode.SYSTEM_ERROR, body);
    this.deps.rebalanceLockManager.unlockBatch(body.consumerGroup, body.mqSet, body.clientId);
    return createResponse(request, ResponseCode.SUCCESS);
  }
}
