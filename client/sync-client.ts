import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'
import type { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { MessageType, encodeDurableQuery, maxDurableQueryDeletionBytes } from '../src/protocol/y-websocket.js'
import { deleteSetDifference, splitDeleteSet, type DeleteSet } from '../src/protocol/delete-set.js'
import { CloseCode, isPermanentClose } from '../src/protocol/close-codes.js'
import { followChanges, type ChangeEvent, type ChangesOptions } from './change-feed.js'
import { docVersions, type DocVersions } from './doc-versions.js'
import { endpointApi } from './node-api.js'

/** `failed`: a node refused this document or this client for good (a 44xx close); the client stops trying. */
export type ConnectionState = 'connecting' | 'connected' | 'synced' | 'offline' | 'failed'

export interface ConnectionStatus {
  state: ConnectionState
  /** The node in use (or last tried); null before the first attempt. */
  endpoint: string | null
  /** Why the state is `failed`: the node's close code and reason. */
  error?: { code: number; reason: string }
}

/** Where opened documents are kept for working offline: an LMDB file in Node, IndexedDB in browsers. */
export interface DocPersistence {
  /** Loads the kept copy of `name` into `doc` and keeps its later updates; returns what stops that. */
  attach(name: string, doc: Y.Doc): () => void
  close(): Promise<void>
}

export interface SyncClientOptions {
  /** Base URLs of the cluster's nodes (http(s) or ws(s)); a document starts at one and fails over to the next. */
  endpoints: string[]
  /** Which endpoint a document tries first: a random one (default, to spread clients), or the first listed. */
  start?: 'random' | 'first'
  /** A client token, or what fetches a fresh one before every connection. */
  token?: string | (() => Promise<string>)
  persistence?: DocPersistence
  /** The WebSocket class; the Node entry passes `ws`'s by default (Node 20 has none of its own). */
  WebSocketPolyfill?: unknown
  /** Longest wait between two connection attempts (default 5,000 ms); the wait doubles from 100 ms. */
  maxBackoffMs?: number
}

/** The version history calls (DocVersions) go over REST to the node the document is connected to, or last tried. */
export interface SyncedDoc extends DocVersions {
  readonly doc: Y.Doc
  readonly awareness: Awareness
  readonly status: ConnectionStatus
  onStatus(listener: (status: ConnectionStatus) => void): () => void
  /** Resolves once the document first synced with a node. */
  readonly whenSynced: Promise<void>
  /** Resolves once a node has made durable every change this document held when it was called, deletions included. */
  whenDurable(): Promise<void>
  close(): void
}

export interface SyncmeshClient {
  open(name: string): SyncedDoc
  /**
   * The change feed of one node (the first endpoint, or a random one, as `start` says), as an async iterator
   * that resumes by itself: see followChanges. A cursor belongs to the node it came from.
   */
  changes(options?: ChangesOptions): AsyncGenerator<ChangeEvent>
  /** Closes every document and the offline store. */
  close(): Promise<void>
}

const initialBackoffMs = 100
/**
 * Durability queries sent and not answered yet, per document; the node allows 64. More are held back: the
 * answers to a later call cover every earlier one (a document's state only grows), so only the newest
 * call's queries are sent, as answers free room.
 */
const maxQueriesInFlight = 16

/** One call of whenDurable: its queries, one or (for a large delete set) several, all to be answered. */
interface DurableCall {
  resolve(): void
  /** By query id. `deleteSet` is the part of the call's deletions the query asks for; null for none. */
  unanswered: Map<number, { frame: Uint8Array; deleteSet: DeleteSet | null }>
}

export function createSyncClient(options: SyncClientOptions): SyncmeshClient {
  if (options.endpoints.length === 0) throw new Error('createClient needs at least one endpoint')
  const persistence = options.persistence ?? null
  const open = new Set<SyncedDoc>()
  return {
    open(name) {
      const synced = openDoc(name, options, persistence)
      open.add(synced)
      return synced
    },
    changes(changeOptions) {
      const endpoint = options.endpoints[options.start === 'first' ? 0 : Math.floor(Math.random() * options.endpoints.length)]!
      return followChanges(endpointApi(endpoint, options.token), changeOptions)
    },
    async close() {
      for (const synced of open) synced.close()
      open.clear()
      await persistence?.close()
    },
  }
}

function openDoc(name: string, options: SyncClientOptions, persistence: DocPersistence | null): SyncedDoc {
  const doc = new Y.Doc()
  const stopPersisting = persistence?.attach(name, doc)
  const provider = new WebsocketProvider(toWebSocketUrl(options.endpoints[0]!), name, doc, {
    connect: false,
    disableBc: true,
    ...(options.WebSocketPolyfill !== undefined && { WebSocketPolyfill: options.WebSocketPolyfill as typeof WebSocket }),
  })
  const maxBackoffMs = options.maxBackoffMs ?? 5_000
  let endpointIndex = options.start === 'first' ? 0 : Math.floor(Math.random() * options.endpoints.length)
  let backoffMs = initialBackoffMs
  let retry: ReturnType<typeof setTimeout> | null = null
  let closed = false
  let status: ConnectionStatus = { state: 'offline', endpoint: null }
  const listeners = new Set<(status: ConnectionStatus) => void>()
  const setStatus = (state: ConnectionState, endpoint: string | null, error?: ConnectionStatus['error']) => {
    status = error ? { state, endpoint, error } : { state, endpoint }
    for (const listener of listeners) listener(status)
  }

  let resolveSynced: () => void = () => {}
  const whenSynced = new Promise<void>((resolve) => (resolveSynced = resolve))
  /*
   * A call asks for the document's state vector and for the deletions not confirmed yet: those of `confirmed`
   * are durable already, so its answers make the call's whole state durable. It is answered once all its
   * queries are, or once a later call is, whose state holds its own.
   */
  const calls: DurableCall[] = []
  /** Every deletion in an answered query. */
  let confirmed: DeleteSet = Y.createDeleteSet()
  const queriesInFlight = new Set<number>()
  let nextQuery = 0
  const askNewest = () => {
    const newest = calls.at(-1)
    if (!provider.synced || !newest) return
    for (const [id, query] of newest.unanswered) {
      if (queriesInFlight.size >= maxQueriesInFlight) return
      if (queriesInFlight.has(id)) continue
      queriesInFlight.add(id)
      provider.ws?.send(query.frame)
    }
  }
  provider.messageHandlers[MessageType.durable] = (_encoder, decoder) => {
    const answered = decoding.readVarUint(decoder)
    queriesInFlight.delete(answered)
    const at = calls.findIndex((call) => call.unanswered.has(answered))
    if (at !== -1) {
      const { deleteSet } = calls[at]!.unanswered.get(answered)!
      if (deleteSet) confirmed = Y.mergeDeleteSets([confirmed, deleteSet])
      calls[at]!.unanswered.delete(answered)
      if (calls[at]!.unanswered.size === 0) for (const call of calls.splice(0, at + 1)) call.resolve()
    }
    askNewest()
  }

  const connect = async () => {
    retry = null
    if (closed) return
    const endpoint = options.endpoints[endpointIndex % options.endpoints.length]!
    setStatus('connecting', endpoint)
    let token: string | undefined
    try {
      token = typeof options.token === 'function' ? await options.token() : options.token
    } catch {
      failOver()
      return
    }
    if (closed) return
    provider.serverUrl = toWebSocketUrl(endpoint)
    provider.params = token === undefined ? {} : { token }
    provider.connect()
  }
  const failOver = () => {
    if (closed) return
    setStatus('offline', status.endpoint)
    endpointIndex++
    retry = setTimeout(() => void connect(), backoffMs)
    backoffMs = Math.min(backoffMs * 2, maxBackoffMs)
  }

  provider.on('status', ({ status: state }) => {
    if (state === 'connected') setStatus('connected', status.endpoint)
  })
  provider.on('sync', (isSynced) => {
    if (!isSynced) return
    backoffMs = initialBackoffMs
    setStatus('synced', status.endpoint)
    resolveSynced()
    // Asked again on every new connection: the changes reached this node in the sync just done.
    queriesInFlight.clear()
    askNewest()
  })
  provider.on('connection-close', (event) => {
    // This client chooses the next node, and fetches a token, itself.
    provider.shouldConnect = false
    if (event && isPermanentClose(event.code)) {
      // The node refused this document or this client; another node would do the same.
      setStatus('failed', status.endpoint, { code: event.code, reason: event.reason })
      return
    }
    if (event?.code === CloseCode.tokenExpired) {
      // The same node, at once, with a fresh token.
      setStatus('offline', status.endpoint)
      retry = setTimeout(() => void connect(), 0)
      return
    }
    failOver()
  })
  // A browser that knows it went offline says so at once (a socket can take long to notice), and one that
  // comes back online reconnects without waiting out the backoff.
  const onOffline = () => provider.disconnect()
  const onOnline = () => {
    if (!retry) return
    clearTimeout(retry)
    backoffMs = initialBackoffMs
    void connect()
  }
  const events = browserWindow()
  events?.addEventListener('offline', onOffline)
  events?.addEventListener('online', onOnline)
  void connect()

  const whenDurable = () => {
    const stateVector = Y.encodeStateVector(doc)
    // The deletions too: a change that only deletes leaves the state vector where it was.
    const deletions = deleteSetDifference(Y.createDeleteSetFromStructStore(doc.store), confirmed)
    const parts = splitDeleteSet(deletions, maxDurableQueryDeletionBytes)
    // With every deletion confirmed, the state vector alone, in a query of the first form.
    const queries = (parts.length > 0 ? parts : [null]).map((deleteSet) => {
      const id = nextQuery++
      return [id, { frame: encodeDurableQuery(id, stateVector, deleteSet ?? undefined), deleteSet }] as const
    })
    return new Promise<void>((resolve) => {
      calls.push({ resolve, unanswered: new Map(queries) })
      askNewest()
    })
  }

  return {
    ...docVersions({
      name,
      doc,
      endpoint: () => status.endpoint ?? options.endpoints[0]!,
      token: options.token,
      whenDurable,
      origin: provider,
    }),
    doc,
    awareness: provider.awareness,
    get status() {
      return status
    },
    onStatus(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    whenSynced,
    whenDurable,
    close() {
      if (closed) return
      closed = true
      if (retry) clearTimeout(retry)
      events?.removeEventListener('offline', onOffline)
      events?.removeEventListener('online', onOnline)
      stopPersisting?.()
      provider.destroy()
      setStatus('offline', status.endpoint)
    },
  }
}

function toWebSocketUrl(endpoint: string): string {
  return endpoint.replace(/^http/, 'ws').replace(/\/+$/, '')
}

/** What a browser's window offers to tell when the network goes away and comes back; null elsewhere. */
interface OnlineEvents {
  addEventListener(type: 'online' | 'offline', listener: () => void): void
  removeEventListener(type: 'online' | 'offline', listener: () => void): void
}

function browserWindow(): OnlineEvents | null {
  const scope = globalThis as { addEventListener?: unknown }
  return typeof scope.addEventListener === 'function' ? (globalThis as unknown as OnlineEvents) : null
}
