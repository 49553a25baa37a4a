import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { createClient } from '../../client/node-client.js'
import { createDocsClient, type DocsClient } from '../../client/docs-client.js'
import type { SyncedDoc, SyncmeshClient } from '../../client/sync-client.js'
import type { Rng } from '../sim/rng.js'
import type { AckLog } from './ack-log.js'

/** Where acknowledged markers go: keys of this map, in every document. */
export const markersMap = 'w'

const requestTimeoutMs = 5_000
// In Node every stock provider adds a process 'exit' listener (removed on destroy); a run holds dozens.
process.setMaxListeners(0)

/**
 * The clients of one node: a stock y-websocket provider, the SDK (which fails over to the other
 * endpoints) and a REST writer, each with its own copy of every document it writes. Every write sets a
 * unique marker key; the SDK's and the REST writer's count as acknowledged once the node says so. Each
 * also edits a shared text, deletions included, so that replicas have deletions to agree on.
 */
export class NodeWriters {
  private readonly providers = new Map<string, WebsocketProvider>()
  private readonly sdk: SyncmeshClient
  private readonly rest: DocsClient
  private readonly sdkDocs = new Map<string, SyncedDoc>()
  private readonly restDocs = new Map<string, Y.Doc>()
  private readonly restBusy = new Set<string>()
  private readonly restWrites = new Set<Promise<void>>()
  private seq = 0
  private closed = false

  constructor(
    readonly node: string,
    private readonly url: string,
    endpoints: string[],
    private readonly acks: AckLog,
    private readonly rng: Rng,
  ) {
    this.rest = createDocsClient({ url, fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(requestTimeoutMs) }) })
    this.sdk = createClient({ endpoints: [url, ...endpoints.filter((e) => e !== url)], start: 'first', maxBackoffMs: 500 })
  }

  /** One write to `doc`, by one of the three kinds of client. */
  write(doc: string): void {
    if (this.closed) return
    const key = `${this.node}:${++this.seq}`
    const kind = this.rng.int(3)
    if (kind === 0) this.editStock(doc, `s:${key}`)
    else if (kind === 1) this.editSdk(doc, `k:${key}`)
    else this.editRest(doc, `r:${key}`)
  }

  /** Stops writing `doc` (deleted for good). */
  drop(doc: string): void {
    this.providers.get(doc)?.destroy()
    this.providers.delete(doc)
    this.sdkDocs.get(doc)?.close()
    this.sdkDocs.delete(doc)
    this.restDocs.delete(doc)
  }

  /** Closes every client; writes not acknowledged by now stay unacknowledged. */
  async close(): Promise<void> {
    this.closed = true
    for (const doc of [...this.providers.keys(), ...this.sdkDocs.keys()]) this.drop(doc)
    await this.sdk.close()
    await Promise.all(this.restWrites)
  }

  private editStock(doc: string, key: string): void {
    let provider = this.providers.get(doc)
    if (!provider) {
      provider = new WebsocketProvider(this.url.replace(/^http/, 'ws'), doc, new Y.Doc(), {
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        disableBc: true,
        maxBackoffTime: 500,
      })
      this.providers.set(doc, provider)
    }
    this.edit(provider.doc, key)
  }

  private editSdk(doc: string, key: string): void {
    let synced = this.sdkDocs.get(doc)
    if (!synced) this.sdkDocs.set(doc, (synced = this.sdk.open(doc)))
    this.edit(synced.doc, key)
    const started = Date.now()
    // Never awaited: a closed document's query may stay unanswered.
    synced.whenDurable().then(
      () => this.acks.ackWrite(doc, key, 'whenDurable', Date.now() - started),
      () => {},
    )
  }

  private editRest(doc: string, key: string): void {
    if (this.restBusy.has(doc)) return
    let local = this.restDocs.get(doc)
    if (!local) this.restDocs.set(doc, (local = new Y.Doc()))
    this.edit(local, key)
    // The whole local copy every time: a write that failed is sent again with the next one.
    const update = Y.encodeStateAsUpdate(local)
    const started = Date.now()
    this.restBusy.add(doc)
    const written = this.rest
      .writeUpdate(doc, update)
      .then(() => this.acks.ackWrite(doc, key, 'rest', Date.now() - started))
      .catch(() => {})
      .finally(() => {
        this.restBusy.delete(doc)
        this.restWrites.delete(written)
      })
    this.restWrites.add(written)
  }

  private edit(doc: Y.Doc, key: string): void {
    this.acks.attempted++
    doc.transact(() => {
      doc.getMap(markersMap).set(key, this.seq)
      const text = doc.getText('t')
      if (text.length > 40 && this.rng.chance(0.5)) text.delete(this.rng.int(text.length - 10), 1 + this.rng.int(8))
      else text.insert(this.rng.int(text.length + 1), key)
    })
  }
}
