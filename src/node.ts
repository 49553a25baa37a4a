import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { Hono } from 'hono'
import { NodeStorage } from './storage/lmdb-env.js'
import type { RaftWalOptions } from './storage/raft-wal/raft-wal.js'
import { DocStore, type DocStoreOptions } from './docs/doc-store.js'
import { SyncServer } from './sync/sync-server.js'
import { CloseCode } from './protocol/close-codes.js'
import { ClusterDeletions } from './docs/cluster-deletions.js'
import { createApp } from './http/app.js'
import { adminRoutes } from './http/admin-routes.js'
import { createMetrics, type Metrics } from './metrics.js'
import { MetaStateMachine } from './meta/state-machine.js'
import { encodeMetaState } from './meta/codec.js'
import type { MetaState } from './meta/state.js'
import { forgetRestoredMetadata, initialMetadata } from './control/restore.js'
import { RaftDriver } from './raft/driver.js'
import { decodeRaftMessage, encodeRaftMessage } from './protocol/raft-codec.js'
import { PeerNetwork } from './peer/peer-network.js'
import { ControlPlane, type ClusterView } from './control/control-plane.js'
import { metadataGate, removedMessage } from './control/doc-gate.js'
import type { ErrorBody } from './http/api-error.js'
import { checkGivenSecret, loadOrCreateSecret } from './control/secrets.js'
import { joinCluster, type JoinFailure } from './control/join.js'
import { loadJoinAnswer, saveJoinAnswer } from './control/join-answer.js'
import { recordRemoval, wasToldRemoved } from './control/removal-record.js'
import { decodeMembershipNotice, encodeMembershipNotice } from './protocol/membership-notice.js'
import { loadOrCreateNodeKey } from './control/node-key.js'
import { recordMemberKeys } from './control/key-recorder.js'
import { keyFingerprint } from './peer/node-identity.js'
import { Replication } from './replication/replication.js'
import { ChangeRecorder, defaultChangeRecorderOptions, type ChangeRecorderOptions } from './changes/change-recorder.js'
import { ChangeFeed } from './changes/change-feed.js'
import { registerChangeFeedMetrics } from './changes/change-metrics.js'
import { PeerOrigin } from './replication/peer-origin.js'
import { startWebhooks } from './webhooks/start-webhooks.js'
import { defaultHistoryOptions, startHistory, type HistoryOptions } from './history/start-history.js'
import { retentionFor } from './history/retention.js'
import { defaultDispatcherOptions, type DispatcherOptions } from './webhooks/webhook-dispatcher.js'
import { defaultRetryPolicy } from './webhooks/retry-schedule.js'
import { listDeliveries } from './webhooks/delivery-listing.js'
import { registerReplicationMetrics } from './replication/replication-metrics.js'
import { isDeleted, policyFor } from './meta/queries.js'
import { ClientTokens } from './auth/client-tokens.js'
import { DocAccessControl } from './auth/doc-access.js'
import { secretMatcher } from './http/admin-auth.js'
import { errorBody } from './http/api-error.js'
import { routeUpgrades } from './http/upgrade-router.js'
import { createHttpServer } from './http/http-server.js'
import { listCursors } from './http/list-cursor.js'
import type { SessionBudget } from './sync/session.js'
import type { Rate } from './sync/rate-limit.js'

export interface NodeConfig {
  id: string
  host: string
  /** 0 lets the OS pick. */
  port: number
  dataDir: string
  /** Largest WebSocket frame or REST body accepted. */
  maxMessageBytes: number
  keepaliveIntervalMs: number
  /** What one client connection may cost: send buffer, durability queries, pending writes, rates. */
  clientBudget: Omit<SessionBudget, 'messageRate' | 'byteRate'>
  /** Messages per second a client connection may send on average (bursts of twice as many); 0 for no limit. */
  maxClientMessagesPerSecond: number
  /** Bytes per second likewise (bursts of twice as many, and always one frame of maxMessageBytes); 0 for no limit. */
  maxClientBytesPerSecond: number
  /** The URL other nodes use to reach this one; default `http://host:port`. */
  advertiseUrl?: string
  /** A member's URL to join through, or several tried in turn, for a node whose data directory holds no cluster yet. */
  join?: string | readonly string[]
  /** Shared by every node of a cluster; made and kept in the data directory if not given. */
  clusterSecret?: string
  /** Guards the admin routes; made and kept in the data directory if not given. */
  adminToken?: string
  /** Client JWTs are required and checked: HS256 with this secret, and/or EdDSA with the public key in this PEM file. */
  tokenKey?: string
  tokenPublicKeyPath?: string
  /** Overrides, on this node only, the URL dialled to reach a peer. */
  peerRoutes?: Record<string, string>
  /** How often this node reconciles all documents with one random live peer. */
  antiEntropyMs: number
  raftTickMs: number
  /** The Raft log is folded into a snapshot of the metadata once this many entries follow the last one. */
  raftSnapshotEntries: number
  /** How long a metadata write may wait for a quorum before it is answered 503. */
  controlTimeoutMs: number
  docs?: Partial<DocStoreOptions>
  /** Retention of the change feed and how long a change waits to be coalesced with more. */
  changes?: Partial<ChangeRecorderOptions>
  /** Webhook deliveries: their retry policy, the receivers' timeout. */
  webhooks?: Partial<DispatcherOptions>
  /** Segment and preallocation sizes of the Raft WAL. */
  raftWal?: RaftWalOptions
  /** Automatic versions and the retention of versions where a namespace does not set it. */
  history?: Partial<HistoryOptions>
}

export const defaultNodeConfig = {
  host: '127.0.0.1',
  port: 4000,
  dataDir: './data',
  // A client that edited a document offline brings all of it in one sync step 2 frame: this is the largest
  // document such a client can bring at once (see README, Limits and bad input).
  maxMessageBytes: 64 * 1024 * 1024,
  clientBudget: {
    maxBufferedBytes: 128 * 1024 * 1024,
    maxDurableQueries: 64,
    maxPendingApplyBytes: 8 * 1024 * 1024,
    maxMessagesPerFrame: 256,
  },
  maxClientMessagesPerSecond: 5_000,
  maxClientBytesPerSecond: 64 * 1024 * 1024,
  keepaliveIntervalMs: 30_000,
  raftTickMs: 100,
  raftSnapshotEntries: 10_000,
  controlTimeoutMs: 5_000,
  antiEntropyMs: 2_000,
} as const

export interface SyncmeshNode {
  readonly id: string
  readonly url: string
  readonly port: number
  readonly docs: DocStore
  readonly metrics: Metrics
  readonly adminTokenPath: string | null
  /** Every route of the node's HTTP app, middleware aside: what its OpenAPI document must describe. */
  readonly httpRoutes: readonly { method: string; path: string }[]
  cluster(): ClusterView
  /** Stops accepting, closes client sockets with 1001, waits for pending writes, closes storage. */
  close(): Promise<void>
}

/** Composes one node from its parts; the only place that knows them all. */
export async function startNode(config: NodeConfig, log: Logger): Promise<SyncmeshNode> {
  // Before anything is opened: a refused secret must leave no port or LMDB environment behind.
  const adminToken =
    config.adminToken === undefined
      ? loadOrCreateSecret(config.dataDir, 'admin-token')
      : { value: checkGivenSecret(config.adminToken, 'the admin token'), path: null }
  const clusterSecret =
    config.clusterSecret === undefined
      ? loadOrCreateSecret(config.dataDir, 'cluster-secret').value
      : checkGivenSecret(config.clusterSecret, 'the cluster secret')
  const { identity } = loadOrCreateNodeKey(config.dataDir)
  const metrics = createMetrics()
  const storage = new NodeStorage({ path: config.dataDir, ...(config.raftWal && { raftWal: config.raftWal }) })
  if (storage.raft.recoveredTail) {
    log.warn(storage.raft.recoveredTail, 'raft WAL: cut off a torn record at its end, left by a crash while it was written')
  }
  const meta = new MetaStateMachine()
  const deleted = (name: string) => isDeleted(meta.state, name)
  const docs = new DocStore(
    storage.docs,
    metrics,
    log,
    { gate: metadataGate(meta, () => removedHere(), (origin) => origin instanceof PeerOrigin), isDeleted: deleted },
    config.docs,
    // Compaction keeps what the retained versions show; `history` is made below, before anything is written.
    (name) => history.versions.retainedContent(name),
  )
  let toldRemoved = wasToldRemoved(config.dataDir)
  const removedHere = () => toldRemoved || meta.state.removedMembers.has(config.id)
  const sync = new SyncServer(docs, metrics, log, {
    ...config.clientBudget,
    maxMessageBytes: config.maxMessageBytes,
    keepaliveIntervalMs: config.keepaliveIntervalMs,
    messageRate: perSecond(config.maxClientMessagesPerSecond, 0),
    byteRate: perSecond(config.maxClientBytesPerSecond, config.maxMessageBytes),
    isDeleted: deleted,
  })

  // The HTTP port comes first: with --port 0 the URL this node advertises is known only once it listens.
  let handler: Hono | null = null
  const server = createHttpServer(
    (request) => (handler ? handler.fetch(request) : Response.json(errorBody('starting', 'the node is starting'), { status: 503 })),
    log,
  )
  await listen(server, config.port, config.host)
  const port = (server.address() as AddressInfo).port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host}:${port}`
  const advertiseUrl = config.advertiseUrl ?? url

  const joining = storage.raft.isEmpty() && config.join !== undefined
  if (storage.raft.isEmpty() && !joining) bootstrap(storage, config.id, advertiseUrl, identity.publicKey, initialMetadata(config.dataDir))
  if (!storage.raft.isEmpty()) forgetRestoredMetadata(config.dataDir)

  let joinedMembers = new Map(loadJoinAnswer(config.dataDir).map((member) => [member.id, member]))
  let joinFailure: JoinFailure | null = null
  // Until its metadata names it, a joining node is replaying metadata older than its join: it knows today's
  // members, and their keys, from its join answer as well.
  const caughtUp = () => meta.state.members.has(config.id) || removedHere()
  const knownMember = (id: string) => meta.state.members.get(id) ?? (caughtUp() ? undefined : joinedMembers.get(id))
  const peers = new PeerNetwork(
    {
      selfId: config.id,
      clusterSecret,
      identity,
      keyOf: (id) => knownMember(id)?.publicKey,
      urlOf: (id) => config.peerRoutes?.[id] ?? knownMember(id)?.url,
    },
    log,
  )
  const driver = new RaftDriver(
    storage.raft,
    { send: (message) => peers.send(message.to, 'raft', encodeRaftMessage(message)) },
    meta,
    { id: config.id, tickMs: config.raftTickMs, snapshotAfterEntries: config.raftSnapshotEntries },
    log,
  )
  // A killed process's sockets close at once: its followers need not wait out an election timeout.
  peers.onLinkDown((peer) => driver.peerDown(peer))
  peers.on('raft', (from, payload) => {
    try {
      const message = decodeRaftMessage(payload)
      if (message.from === from) driver.receive(message)
    } catch (err) {
      log.warn({ err, from }, 'unreadable raft message')
    }
  })
  // Members removed less than departureWindowMs ago stay linked, so that each can hand off what only it holds.
  const departing = new Map<string, NodeJS.Timeout>()
  const isDeparting = (peer: string) => departing.has(peer)
  let handedOff = false
  const updatePeers = () => {
    const members = new Set([...meta.state.members.keys(), ...(caughtUp() ? [] : joinedMembers.keys())])
    peers.setPeers(handedOff ? [] : [...members, ...departing.keys()].filter((id) => id !== config.id))
  }
  // A removed node that missed its removal (cut off or stopped when it committed) hears it from any member
  // it links with during the window.
  const tellRemoved = (id: string) => peers.send(id, 'membership', encodeMembershipNotice({ type: 'removed' }))
  peers.onLinkUp((peer) => {
    if (departing.has(peer)) tellRemoved(peer)
  })
  const linkWhileDeparting = (id: string) => {
    tellRemoved(id)
    clearTimeout(departing.get(id))
    const timer = setTimeout(() => {
      departing.delete(id)
      updatePeers()
    }, departureWindowMs)
    timer.unref()
    departing.set(id, timer)
  }
  updatePeers()
  const history = startHistory(
    {
      selfId: config.id,
      docs,
      storage: storage.history,
      peers,
      antiEntropyMs: config.antiEntropyMs,
      isDeleted: deleted,
      isDeparting,
      retention: (name, defaults) => retentionFor(policyFor(meta.state, name)?.history, defaults),
    },
    { ...defaultHistoryOptions, ...config.history },
    log,
  )
  const deletions = new ClusterDeletions({ selfId: config.id, meta: () => meta.state, docs, sync, history, changes: storage.changes }, log)
  const checkOwnKey = () => {
    const onRecord = meta.state.members.get(config.id)?.publicKey
    if (onRecord === undefined || onRecord === identity.publicKey) return
    log.error(
      { key: keyFingerprint(identity.publicKey), onRecord: keyFingerprint(onRecord) },
      "this node's key (node-key in its data directory) is not the one the cluster holds for it: every peer will refuse it",
    )
  }
  meta.onRestored(() => {
    updatePeers()
    peers.recheckKeys()
    checkOwnKey()
    deletions.catchUp()
    if (removedHere()) leave()
  })
  meta.onApplied((command, result, entry) => {
    if (!result.ok) return
    if (command.type === 'remove-member' && command.id !== config.id) linkWhileDeparting(command.id)
    if (command.type === 'add-member' || command.type === 'remove-member') updatePeers()
    if (command.type === 'set-member-key') peers.recheckKeys()
    if (command.type === 'remove-member' && command.id === config.id) leave()
    if (command.type === 'add-member' && command.id === config.id) deletions.joinedAt(entry.index)
    if (command.type === 'delete-doc') deletions.applied(command.name, entry.index)
  })
  deletions.catchUp()
  const replication = new Replication(
    docs,
    peers,
    { selfId: config.id, channel: 'replication', antiEntropyMs: config.antiEntropyMs, isDeleted: deleted, isDeparting },
    log,
  )
  registerReplicationMetrics(metrics.registry, () => replication.peerStatus())
  // A removed node learns it from its metadata: the committed removal, or a snapshot (this start's, or one
  // received) that no longer lists it. Its clients' writes are refused from then on (the gate reads the same
  // metadata); it refuses new sessions, hands what it holds to a remaining member, and only then closes its
  // sessions, which fail over to another node.
  let leaving: Promise<void> | null = null
  // What `/readyz` of a removed node tells: whether it may be stopped without losing what only it holds.
  let handOff: 'in_progress' | 'done' | 'failed' = 'in_progress'
  const leave = () => {
    leaving ??= (async () => {
      log.warn('this node was removed from the cluster; handing its documents and their histories to a remaining member')
      sync.refuseNew(CloseCode.nodeRemoved, removedMessage)
      await docs.whenWritten()
      const remaining = [...meta.state.members.keys()].filter((id) => id !== config.id)
      const [to, historiesTo] = await Promise.all([
        replication.handOff(remaining, handOffTimeoutMs),
        history.handOff(remaining, handOffTimeoutMs),
      ])
      if (closing) return
      handOff = to && historiesTo ? 'done' : 'failed'
      if (handOff === 'done') log.info({ to, historiesTo }, 'documents and histories handed off; closing client sessions')
      else log.error({ remaining, timeoutMs: handOffTimeoutMs, to, historiesTo }, 'no remaining member was found holding all documents and histories of this node')
      sync.closeAll(CloseCode.nodeRemoved, removedMessage)
      handedOff = true
      updatePeers()
    })()
  }
  if (removedHere()) leave()
  peers.on('membership', (from, payload) => {
    const notice = decodeMembershipNotice(payload)
    if (notice.type !== 'removed' || removedHere() || knownMember(from) === undefined) return
    log.warn({ from }, 'a member says this node was removed from the cluster')
    recordRemoval(config.dataDir, from)
    toldRemoved = true
    leave()
  })
  sync.onLocalAwareness((doc, update) => replication.broadcastAwareness(doc, update))
  replication.onAwareness((doc, update) => sync.applyPeerAwareness(doc, update))

  const control = new ControlPlane(driver, meta, { id: config.id, timeoutMs: config.controlTimeoutMs, planIntervalMs: 500 }, log)
  checkOwnKey()
  const keyRecorder = recordMemberKeys(
    control,
    meta,
    { selfId: config.id, selfKey: identity.publicKey, dialedKeyOf: (id) => peers.dialedKeyOf(id), intervalMs: 500 },
    log,
  )
  const changeRecorder = new ChangeRecorder(docs, storage.changes, log, { ...defaultChangeRecorderOptions, ...config.changes })
  const changeFeed = new ChangeFeed(changeRecorder, maxChangeConsumers)
  registerChangeFeedMetrics(metrics.registry, changeFeed, changeRecorder)
  const webhooks = startWebhooks(
    { selfId: config.id, removed: removedHere, meta, peers, docs, storage: storage.webhooks, recorder: changeRecorder, registry: metrics.registry },
    { ...defaultDispatcherOptions, retry: defaultRetryPolicy, ...config.webhooks },
    log,
  )
  let closing: Promise<void> | null = null
  const access = new DocAccessControl(
    await ClientTokens.load({
      ...(config.tokenKey !== undefined && { hmacSecret: config.tokenKey }),
      ...(config.tokenPublicKeyPath !== undefined && { ed25519PublicKeyPath: config.tokenPublicKeyPath }),
    }),
    secretMatcher(adminToken.value),
    (doc) => policyFor(meta.state, doc)?.publicRead === true,
  )
  handler = createApp(docs, metrics, log, {
    maxBodyBytes: config.maxMessageBytes,
    access,
    endpoints: () => control.view().members.map((member) => member.url),
    listCursors: listCursors(clusterSecret),
    changes: changeFeed,
    backup: {
      adminToken: adminToken.value,
      nodeId: config.id,
      scratchDir: config.dataDir,
      metaSnapshot: () => encodeMetaState(meta.state),
      copyStore: (path) => storage.copyTo(path),
    },
    versions: history.versions,
    isDeleted: deleted,
    notReady: (): ErrorBody['error'] | null => {
      if (closing) return { code: 'shutting_down', message: 'the node is shutting down' }
      if (removedHere()) return { code: 'not_a_member', message: removedMessage, handOff }
      if (driver.failure) return { code: 'metadata_unavailable', message: driver.failure.reason }
      if (!caughtUp()) {
        if (joinedMembers.size > 0) return { code: 'joining', message: "added to the cluster: waiting for the cluster's metadata" }
        const failed = joinFailure && { lastJoinVia: joinFailure.via, lastJoinError: joinFailure.error }
        return { code: 'joining', message: 'not a member yet: asking the cluster to add this node', ...failed }
      }
      return null
    },
    admin: adminRoutes(control, {
      adminToken: adminToken.value,
      clusterSecret,
      timeoutMs: config.controlTimeoutMs,
      dataPlaneView: () => ({ replication: replication.summary(), peers: replication.peerStatus() }),
      deliveries: (id, query, authorization) =>
        listDeliveries(
          { selfId: config.id, dispatcher: webhooks, logId: storage.changes.logId, members: () => meta.state.members.values() },
          id,
          query,
          authorization,
        ),
    }),
  })
  routeUpgrades(server, { access, peers, sync }, log)
  const joined = joining
    ? joinCluster({
        via: typeof config.join === 'string' ? [config.join] : config.join!,
        id: config.id,
        url: advertiseUrl,
        publicKey: identity.publicKey,
        adminToken: adminToken.value,
        log,
        onFailed: (failure) => (joinFailure = failure),
        onJoined: (members, addedAfter) => {
          // Deletions from here on are this node's to record, whether it catches up by the log or by a snapshot
          // (which does not tell when it was added): one it sends webhooks for may not have been delivered yet.
          deletions.joinedAt(addedAfter)
          saveJoinAnswer(config.dataDir, members)
          forgetRestoredMetadata(config.dataDir)
          joinedMembers = new Map(members.map((member) => [member.id, member]))
          updatePeers()
        },
      })
    : null

  return {
    id: config.id,
    url,
    port,
    docs,
    metrics,
    adminTokenPath: adminToken.path,
    httpRoutes: handler.routes.filter((route) => route.method !== 'ALL').map(({ method, path }) => ({ method, path })),
    cluster: () => control.view(),
    close: () =>
      (closing ??= (async () => {
        joined?.cancel()
        for (const timer of departing.values()) clearTimeout(timer)
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        changeFeed.close()
        await webhooks.close()
        control.close()
        keyRecorder.close()
        replication.close()
        await history.close()
        sync.close()
        driver.close()
        await peers.close()
        await changeRecorder.close()
        await docs.close()
        server.closeAllConnections()
        await serverClosed
        await storage.close()
      })()),
  }
}

/**
 * How long the remaining members keep linking with a removed one, and how long the removed one tries to hand
 * off its documents: less, because they started counting when they applied its removal, before it learned.
 */
const departureWindowMs = 30_000
const handOffTimeoutMs = 20_000

/** Change-feed consumers (long polls and event streams) one node serves at once; more are answered 503. */
const maxChangeConsumers = 1_000

/** A rate limit of `limit` per second with bursts of twice that, and at least `minBurst`; null for 0 (no limit). */
function perSecond(limit: number, minBurst: number): Rate | null {
  return limit === 0 ? null : { perSecond: limit, burst: Math.max(2 * limit, minBurst) }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** A brand-new cluster of one: this node is its only voter, from a snapshot at index 1 holding `state` (and it). */
function bootstrap(storage: NodeStorage, id: string, url: string, publicKey: string, state: MetaState): void {
  state.members.set(id, { id, url, role: 'voter', publicKey })
  storage.raft.bootstrap({ index: 1, term: 1, config: { voters: [id], replicas: [] }, data: encodeMetaState(state) })
}
