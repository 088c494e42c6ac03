/**
 * NameServer request processors (DefaultRequestProcessor / ClientRequestProcessor.java), one
 * function per request code, registered on the server's processor table.
 */
import * as zlib from 'node:zlib';
import type { Logger } from '../common/logger';
import { createResponse, type RemotingCommand } from '../protocol/remoting-command';
import { RequestCode } from '../protocol/request-code';
import { ResponseCode } from '../protocol/response-code';
import type { RemotingServer } from '../remoting/remoting-server';
import type { Channel } from '../remoting/types';
import { NAMESPACE_ORDER_TOPIC_CONFIG, type KvConfigManager } from './kv-config-manager';
import type { RouteInfoManager } from './route-info-manager';
import {
  decodeDataVersion,
  decodeRegisterBrokerBody,
  encodeClusterInfo,
  encodeDataVersion,
  encodeKVTable,
  encodeTopicList,
  encodeTopicRouteData,
  parseLenientJson,
  type RegisterBrokerBody,
} from '../protocol/bodies';
import {
  DeleteKVConfigRequestHeader,
  GetKVConfigRequestHeader,
  GetKVListByNamespaceRequestHeader,
  GetRouteInfoRequestHeader,
  GetTopicsByClusterRequestHeader,
  PutKVConfigRequestHeader,
  QueryDataVersionRequestHeader,
  QueryDataVersionResponseHeader,
  RegisterBrokerRequestHeader,
  RegisterBrokerResponseHeader,
  GetKVConfigResponseHeader,
  UnregisterBrokerRequestHeader,
} from '../protocol/headers';

/** Java sends `UtilAll.crc32` (masked to 31 bits); the plain CRC32 is accepted too. */
function crcMatches(body: Buffer | undefined, expected: number): boolean {
  const full = zlib.crc32(body ?? Buffer.alloc(0));
  return expected === (full & 0x7fffffff) || expected === full || expected === (full | 0);
}

export function registerNamesrvProcessors(server: RemotingServer, routes: RouteInfoManager, kv: KvConfigManager, logger: Logger): void {
  server.registerProcessor(RequestCode.REGISTER_BROKER, (req, channel) => registerBroker(req, channel, routes, kv, logger));
  server.registerProcessor(RequestCode.UNREGISTER_BROKER, (req) => {
    const h = UnregisterBrokerRequestHeader.decode(req.extFields);
    routes.unregisterBroker(h.clusterName, h.brokerAddr, h.brokerName, h.brokerId);
    return createResponse(req, ResponseCode.SUCCESS);
  });
  server.registerProcessor(RequestCode.QUERY_DATA_VERSION, (req) => {
    const h = QueryDataVersionRequestHeader.decode(req.extFields);
    const { changed, stored } = routes.queryDataVersion(h.clusterName, h.brokerAddr, req.body && req.body.length > 0 ? decodeDataVersion(parseLenientJson(req.body)) : undefined);
    return createResponse(req, ResponseCode.SUCCESS, undefined, QueryDataVersionResponseHeader.encode({ changed }), stored ? encodeDataVersion(stored) : undefined);
  });
  server.registerProcessor(RequestCode.GET_ROUTEINFO_BY_TOPIC, (req) => {
    const h = GetRouteInfoRequestHeader.decode(req.extFields);
    const route = routes.pickupTopicRouteData(h.topic);
    if (!route) return createResponse(req, ResponseCode.TOPIC_NOT_EXIST, `No topic route info in name server for the topic: ${h.topic}`);
    const orderTopicConf = kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, h.topic);
    if (orderTopicConf) route.orderTopicConf = orderTopicConf;
    const body = encodeTopicRouteData(route, { requestVersion: req.version, acceptStandardJsonOnly: h.acceptStandardJsonOnly });
    return createResponse(req, ResponseCode.SUCCESS, undefined, undefined, body);
  });
  server.registerProcessor(RequestCode.GET_BROKER_CLUSTER_INFO, (req) =>
    // The Java namesrv writes ClusterInfo with fastjson defaults: unquoted integer keys.
    createResponse(req, ResponseCode.SUCCESS, undefined, undefined, encodeClusterInfo(routes.getClusterInfo())),
  );
  server.registerProcessor(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, (req) =>
    createResponse(req, ResponseCode.SUCCESS, undefined, undefined, encodeTopicList({ topicList: routes.getAllTopics() })),
  );
  server.registerProcessor(RequestCode.GET_TOPICS_BY_CLUSTER, (req) => {
    const h = GetTopicsByClusterRequestHeader.decode(req.extFields);
    return createResponse(req, ResponseCode.SUCCESS, undefined, undefined, encodeTopicList({ topicList: routes.getTopicsByCluster(h.cluster) }));
  });
  server.registerProcessor(RequestCode.PUT_KV_CONFIG, (req) => {
    const h = PutKVConfigRequestHeader.decode(req.extFields);
    kv.put(h.namespace, h.key, h.value);
    return createResponse(req, ResponseCode.SUCCESS);
  });
  server.registerProcessor(RequestCode.GET_KV_CONFIG, (req) => {
    const h = GetKVConfigRequestHeader.decode(req.extFields);
    const value = kv.get(h.namespace, h.key);
    if (value === undefined) return createResponse(req, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${h.namespace} Key: ${h.key}`);
    return createResponse(req, ResponseCode.SUCCESS, undefined, GetKVConfigResponseHeader.encode({ value }));
  });
  server.registerProcessor(RequestCode.DELETE_KV_CONFIG, (req) => {
    const h = DeleteKVConfigRequestHeader.decode(req.extFields);
    kv.delete(h.namespace, h.key);
    return createResponse(req, ResponseCode.SUCCESS);
  });
  server.registerProcessor(RequestCode.GET_KVLIST_BY_NAMESPACE, (req) => {
    const h = GetKVListByNamespaceRequestHeader.decode(req.extFields);
    const table = kv.list(h.namespace);
    if (!table) return createResponse(req, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${h.namespace}`);
    return createResponse(req, ResponseCode.SUCCESS, undefined, undefined, encodeKVTable({ table }));
  });
}

const EMPTY_REGISTER_BODY: RegisterBrokerBody = { topicConfigSerializeWrapper: { topicConfigTable: {}, dataVersion: { timestamp: 0, counter: 0 } }, filterServerList: [] };

function registerBroker(req: RemotingCommand, channel: Channel, routes: RouteInfoManager, kv: KvConfigManager, logger: Logger): RemotingCommand {
  const h = RegisterBrokerRequestHeader.decode(req.extFields);
  if (h.bodyCrc32 !== undefined && h.bodyCrc32 !== 0 && !crcMatches(req.body, h.bodyCrc32)) {
    logger.warn({ brokerAddr: h.brokerAddr, peer: channel.remoteAddress }, 'register broker: body crc32 does not match');
    return createResponse(req, ResponseCode.SYSTEM_ERROR, 'crc32 not match');
  }
  const body = req.body && req.body.length > 0 ? decodeRegisterBrokerBody(req.body, h.compressed === true) : EMPTY_REGISTER_BODY;
  const result = routes.registerBroker({
    clusterName: h.clusterName,
    brokerAddr: h.brokerAddr,
    brokerName: h.brokerName,
    brokerId: h.brokerId,
    haServerAddr: h.haServerAddr,
    heartbeatTimeoutMillis: h.heartbeatTimeoutMillis,
    enableActingMaster: h.enableActingMaster,
    zoneName: h.__ZONE_NAME,
    topicConfigTable: body.topicConfigSerializeWrapper.topicConfigTable,
    dataVersion: body.topicConfigSerializeWrapper.dataVersion,
    filterServerList: body.filterServerList,
    channel,
  });
  const orderConf = kv.list(NAMESPACE_ORDER_TOPIC_CONFIG);
  return createResponse(
    req,
    ResponseCode.SUCCESS,
    undefined,
    RegisterBrokerResponseHeader.encode(result),
    orderConf ? encodeKVTable({ table: orderConf }) : undefined,
  );
}
