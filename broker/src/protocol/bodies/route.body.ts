/**
 * NameServer bodies: TopicRouteData (GET_ROUTEINFO_BY_TOPIC), ClusterInfo (GET_BROKER_CLUSTER_INFO),
 * TopicList (GET_ALL_TOPIC_LIST_FROM_NAMESERVER).
 *
 * Route JSON dialect (Java namesrv `ClientRequestProcessor.getRouteInfoByTopic`): requester version
 * >= V4_9_4 (401) or header acceptStandardJsonOnly=true → standard JSON (quoted keys, non-ASCII
 * escaped); otherwise fastjson's default with unquoted brokerId keys: `"brokerAddrs":{0:"h:p"}`.
 * Never any whitespace (Go parses the raw text).
 */
import { asArray, asObject, optBool, optInt, optString, reqInt, reqString, stringArray, stringMap } from './body-shape';
import { parseLenientJson, toFastJsonBuffer } from './fastjson';

/** First version whose route replies use standard JSON. */
export const V4_9_4_VERSION = 401;

export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  /** PermName bits. */
  perm: number;
  topicSysFlag: number;
}

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** brokerId ("0" = master) → "ip:port". */
  brokerAddrs: Record<string, string>;
  zoneName?: string;
  enableActingMaster?: boolean;
}

export interface TopicRouteData {
  orderTopicConf?: string;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  /** broker address → filter server addresses; always `{}` here. */
  filterServerTable: Record<string, string[]>;
  topicQueueMappingByBroker?: Record<string, unknown>;
}

const BROKER_ADDRS_KEYS: ReadonlySet<string> = new Set(['brokerAddrs']);

/** True when the reply must use standard JSON (quoted brokerId keys). */
export function useStandardRouteJson(requestVersion: number, acceptStandardJsonOnly?: boolean): boolean {
  return acceptStandardJsonOnly === true || requestVersion >= V4_9_4_VERSION;
}

export interface RouteEncodeOptions {
  /** Request `version` of the asking client. */
  requestVersion: number;
  acceptStandardJsonOnly?: boolean;
}

export function encodeTopicRouteData(route: TopicRouteData, opts: RouteEncodeOptions): Buffer {
  const standard = useStandardRouteJson(opts.requestVersion, opts.acceptStandardJsonOnly);
  return toFastJsonBuffer(route, standard ? { asciiOnly: true } : { unquotedIntKeys: BROKER_ADDRS_KEYS });
}

export function decodeQueueData(v: unknown, path: string): QueueData {
  const o = asObject(v, path);
  return {
    brokerName: reqString(o, 'brokerName', path),
    readQueueNums: reqInt(o, 'readQueueNums', path),
    writeQueueNums: reqInt(o, 'writeQueueNums', path),
    perm: reqInt(o, 'perm', path),
    // 4.4.0 called it topicSynFlag
    topicSysFlag: optInt(o, 'topicSysFlag', path) ?? optInt(o, 'topicSynFlag', path) ?? 0,
  };
}

export function decodeBrokerData(v: unknown, path: string): BrokerData {
  const o = asObject(v, path);
  const bd: BrokerData = {
    cluster: optString(o, 'cluster', path) ?? '',
    brokerName: reqString(o, 'brokerName', path),
    brokerAddrs: stringMap(o.brokerAddrs, `${path}.brokerAddrs`),
  };
  const zone = optString(o, 'zoneName', path);
  if (zone !== undefined) bd.zoneName = zone;
  const acting = optBool(o, 'enableActingMaster', path);
  if (acting !== undefined) bd.enableActingMaster = acting;
  return bd;
}

/** Reads either dialect. Throws BodyError. */
export function decodeTopicRouteData(body: Buffer | string): TopicRouteData {
  return readTopicRouteData(parseLenientJson(body));
}

/** TopicRouteData from an already parsed body (for callers that also keep the raw JSON). Throws BodyError. */
export function readTopicRouteData(json: unknown): TopicRouteData {
  const o = asObject(json, 'route');
  const route: TopicRouteData = {
    queueDatas: asArray(o.queueDatas ?? [], 'route.queueDatas').map((q, i) => decodeQueueData(q, `route.queueDatas[${i}]`)),
    brokerDatas: asArray(o.brokerDatas ?? [], 'route.brokerDatas').map((b, i) => decodeBrokerData(b, `route.brokerDatas[${i}]`)),
    filterServerTable: {},
  };
  if (o.filterServerTable !== undefined && o.filterServerTable !== null) {
    for (const [k, v] of Object.entries(asObject(o.filterServerTable, 'route.filterServerTable'))) {
      route.filterServerTable[k] = stringArray(v, `route.filterServerTable.${k}`);
    }
  }
  const order = optString(o, 'orderTopicConf', 'route');
  if (order !== undefined) route.orderTopicConf = order;
  if (o.topicQueueMappingByBroker !== undefined && o.topicQueueMappingByBroker !== null) {
    route.topicQueueMappingByBroker = asObject(o.topicQueueMappingByBroker, 'route.topicQueueMappingByBroker');
  }
  return route;
}

/** Master address of a BrokerData (brokerId 0), if any. */
export function masterAddress(bd: BrokerData): string | undefined {
  return bd.brokerAddrs['0'];
}

// ---------------------------------------------------------------------------------------------

export interface ClusterInfo {
  brokerAddrTable: Record<string, BrokerData>;
  clusterAddrTable: Record<string, string[]>;
}

/** Java writes ClusterInfo with fastjson defaults, so brokerAddrs keys are always unquoted. */
export function encodeClusterInfo(info: ClusterInfo, opts: { standardJson?: boolean } = {}): Buffer {
  return toFastJsonBuffer(info, opts.standardJson ? {} : { unquotedIntKeys: BROKER_ADDRS_KEYS });
}

export function decodeClusterInfo(body: Buffer | string): ClusterInfo {
  const o = asObject(parseLenientJson(body), 'clusterInfo');
  const info: ClusterInfo = { brokerAddrTable: {}, clusterAddrTable: {} };
  for (const [k, v] of Object.entries(asObject(o.brokerAddrTable ?? {}, 'clusterInfo.brokerAddrTable'))) {
    info.brokerAddrTable[k] = decodeBrokerData(v, `clusterInfo.brokerAddrTable.${k}`);
  }
  for (const [k, v] of Object.entries(asObject(o.clusterAddrTable ?? {}, 'clusterInfo.clusterAddrTable'))) {
    info.clusterAddrTable[k] = stringArray(v, `clusterInfo.clusterAddrTable.${k}`);
  }
  return info;
}

export interface TopicList {
  topicList: string[];
  brokerAddr?: string;
}

export function encodeTopicList(list: TopicList): Buffer {
  return toFastJsonBuffer(list);
}

export function decodeTopicList(body: Buffer | string): TopicList {
  const o = asObject(parseLenientJson(body), 'topicList');
  const out: TopicList = { topicList: stringArray(o.topicList, 'topicList.topicList') };
  const addr = optString(o, 'brokerAddr', 'topicList');
  if (addr !== undefined) out.brokerAddr = addr;
  return out;
}
