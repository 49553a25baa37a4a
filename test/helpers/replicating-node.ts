import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import { PeerNetwork } from '../../src/peer/peer-network.js'
import { PeerChannel, encodeChannelFrame } from '../../src/protocol/peer-frames.js'
import { Replication, type ReplicationOptions } from '../../src/replication/replication.js'
import { TestKeyring } from './node-keys.js'
import { openStore, silentLog } from './store.js'
import { tempDir } from './temp-dir.js'

export const secret = 'the cluster secret of the tests'
const cleanups: (() => Promise<void>)[] = []

/**
 * Node `a`: a real DocStore on LMDB holding document `x`, replication on a real peer network on 127.0.0.1
 * that lets peer `e` in (a raw peer, see raw-peer.ts). Anti-entropy runs only when the link comes up.
 */
export async function startReplicatingNode({ log = silentLog, options = {} }: { log?: Logger; options?: Partial<ReplicationOptions> } = {}) {
  const store = openStore(tempDir())
  const keys = new TestKeyring()
  const network = new PeerNetwork({ selfId: 'a', clusterSecret: secret, identity: keys.identityOf('a'), keyOf: keys.keyOf, urlOf: () => undefined }, log)
  const replication = new Replication(store.docs, network, { selfId: 'a', channel: 'replication', antiEntropyMs: 60_000, isDeleted: () => false, isDeparting: () => false, ...options }, log)
  network.setPeers(['e'])
  const server = createServer((_request, response) => response.writeHead(404).end())
  server.on('upgrade', (request, socket, head) => network.handleUpgrade(request, socket, head))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    replication.close()
    await network.close()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await store.close()
  })
  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'stored before')
  const stored = await store.docs.apply('x', Y.encodeStateAsUpdate(doc), 'test')
  if (!stored.ok) throw new Error(`could not store x: ${stored.reason}`)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, store, network, replication }
}

export async function stopReplicatingNodes(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
}

export const replicationFrame = (payload: Uint8Array) => encodeChannelFrame(PeerChannel.replication, payload)
