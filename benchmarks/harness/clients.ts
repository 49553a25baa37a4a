import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import type { ServerProcess } from './servers.js'

/** A stock provider of the server's own protocol, holding `doc` in sync with one document. */
export interface SyncClient {
  readonly doc: Y.Doc
  readonly synced: boolean
  destroy(): void
}

/** y-websocket's WebsocketProvider, or HocuspocusProvider for Hocuspocus; both over the `ws` package. */
export function connectClient(server: ServerProcess, docName: string, doc = new Y.Doc()): SyncClient {
  if (server.kind !== 'hocuspocus') {
    const provider = new WebsocketProvider(server.wsUrl, docName, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
    })
    return {
      doc,
      get synced() {
        return provider.synced
      },
      destroy() {
        provider.destroy()
        // The provider leaves its awareness, and the awareness's timer, to the doc's destroy event.
        doc.destroy()
      },
    }
  }
  const socket = new HocuspocusProviderWebsocket({ url: server.wsUrl, WebSocketPolyfill: WebSocket })
  const provider = new HocuspocusProvider({ websocketProvider: socket, name: docName, document: doc })
  provider.attach()
  return {
    doc,
    get synced() {
      return provider.synced
    },
    destroy() {
      provider.destroy()
      socket.destroy()
      doc.destroy()
    },
  }
}

export async function connectSynced(server: ServerProcess, docName: string, doc?: Y.Doc): Promise<SyncClient> {
  const client = connectClient(server, docName, doc)
  try {
    await waitFor(`${docName} on ${server.kind} to sync`, () => client.synced)
  } catch (err) {
    client.destroy()
    throw err
  }
  return client
}

/** Polls `check` every few milliseconds until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Runs `task` on every item, at most `concurrency` at a time; resolves to the results in order. */
export async function inBatches<T, R>(items: readonly T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  for (let i = 0; i < items.length; i += concurrency) {
    results.push(...(await Promise.all(items.slice(i, i + concurrency).map(task))))
  }
  return results
}
