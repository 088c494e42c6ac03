/** `admin clusterList`: GET_BROKER_CLUSTER_INFO as a table of clusters, brokers and addresses. */
import type { AdminClient } from '../admin-client';
import type { Output } from '../output';
import { formatTable, type Cell } from '../table';

export async function clusterListCommand(admin: AdminClient, opts: { json?: boolean }, out: Output): Promise<void> {
  const info = await admin.clusterInfo();
  if (opts.json) {
    out.json(info);
    return;
  }
  const rows: Cell[][] = [];
  for (const cluster of Object.keys(info.clusterAddrTable).sort()) {
    for (const name of [...info.clusterAddrTable[cluster]!].sort()) {
      const broker = info.brokerAddrTable[name];
      const addrs = Object.entries(broker?.brokerAddrs ?? {}).sort(([x], [y]) => Number(x) - Number(y));
      if (addrs.length === 0) rows.push([cluster, name, undefined, undefined]);
      for (const [id, addr] of addrs) rows.push([cluster, name, Number(id), addr]);
    }
  }
  out.line(formatTable(['#Cluster Name', '#Broker Name', '#BID', '#Addr'], rows));
}
