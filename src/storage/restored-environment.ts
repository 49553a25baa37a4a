import { open } from 'lmdb'
import { newChangeLogId } from './change-log.js'

/**
 * Makes a copied LMDB environment (a backup's) one of a new node: the Raft state of the node it was copied
 * from goes (a node that took over its term, vote and log could vote twice in one term), and its change feed
 * gets a new log id, so that a consumer's cursor of the old node is not taken for one of this node's feed.
 */
export async function prepareRestoredEnvironment(dir: string): Promise<void> {
  const env = open({ path: dir })
  try {
    await env.openDB({ name: 'raft-state', encoding: 'msgpack' }).clearAsync()
    await env.openDB<string, string>({ name: 'change-info', encoding: 'string' }).put('log-id', newChangeLogId())
  } finally {
    await env.close()
  }
}
