/** NameServer requests: 100-105 and 322 (GET_BROKER_CLUSTER_INFO / GET_ALL_TOPIC_LIST have no header). */
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

export const RegisterBrokerRequestHeader = defineHeader({
  brokerName: req.string,
  brokerAddr: req.string,
  clusterName: req.string,
  haServerAddr: req.string,
  brokerId: req.long,
  heartbeatTimeoutMillis: opt.long,
  enableActingMaster: opt.boolean,
  /** Body is the zlib form of RegisterBrokerBody. */
  compressed: opt.boolean,
  /** Non-zero: the namesrv checks crc32 of the body ("crc32 not match"). */
  bodyCrc32: opt.int,
  __ZONE_NAME: opt.string,
});
export type RegisterBrokerRequestHeader = HeaderOf<typeof RegisterBrokerRequestHeader.schema>;

export const RegisterBrokerResponseHeader = defineHeader({
  haServerAddr: opt.string,
  masterAddr: opt.string,
});
export type RegisterBrokerResponseHeader = HeaderOf<typeof RegisterBrokerResponseHeader.schema>;

export const UnregisterBrokerRequestHeader = defineHeader({
  brokerName: req.string,
  brokerAddr: req.string,
  clusterName: req.string,
  brokerId: req.long,
});
export type UnregisterBrokerRequestHeader = HeaderOf<typeof UnregisterBrokerRequestHeader.schema>;

export const GetRouteInfoRequestHeader = defineHeader({
  topic: req.string,
  /** 5.x: force standard (quoted-key) JSON. */
  acceptStandardJsonOnly: opt.boolean,
});
export type GetRouteInfoRequestHeader = HeaderOf<typeof GetRouteInfoRequestHeader.schema>;

/** Body = DataVersion JSON. */
export const QueryDataVersionRequestHeader = defineHeader({
  brokerName: req.string,
  brokerAddr: req.string,
  clusterName: req.string,
  brokerId: req.long,
});
export type QueryDataVersionRequestHeader = HeaderOf<typeof QueryDataVersionRequestHeader.schema>;

export const QueryDataVersionResponseHeader = defineHeader({ changed: opt.boolean });
export type QueryDataVersionResponseHeader = HeaderOf<typeof QueryDataVersionResponseHeader.schema>;

export const PutKVConfigRequestHeader = defineHeader({ namespace: req.string, key: req.string, value: req.string });
export type PutKVConfigRequestHeader = HeaderOf<typeof PutKVConfigRequestHeader.schema>;

export const GetKVConfigRequestHeader = defineHeader({ namespace: req.string, key: req.string });
export type GetKVConfigRequestHeader = HeaderOf<typeof GetKVConfigRequestHeader.schema>;

export const GetKVConfigResponseHeader = defineHeader({ value: opt.string });
export type GetKVConfigResponseHeader = HeaderOf<typeof GetKVConfigResponseHeader.schema>;

export const DeleteKVConfigRequestHeader = defineHeader({ namespace: req.string, key: req.string });
export type DeleteKVConfigRequestHeader = HeaderOf<typeof DeleteKVConfigRequestHeader.schema>;

export const GetKVListByNamespaceRequestHeader = defineHeader({ namespace: req.string });
export type GetKVListByNamespaceRequestHeader = HeaderOf<typeof GetKVListByNamespaceRequestHeader.schema>;
