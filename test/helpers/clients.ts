import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { waitFor } from './wait.js'

const open: WebsocketProvider[] = []
// In Node every provider adds a process 'exit' listener (removed on destroy); tests hold hundreds at once.
process.setMaxListeners(0)

/** A stock y-websocket provider on `docName`, over the `ws` package (Node 20 has no global WebSocket). */
export function connect(httpUrl: string, docName: string, doc = new Y.Doc(), params: Record<string, string> = {}): WebsocketProvider {
  const provider = new WebsocketProvider(httpUrl.replace(/^http/, 'ws'), docName, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: 200,
    params,
  })
  open.push(provider)
  return provider
}

export async function connectSynced(
  httpUrl: string,
  docName: string,
  doc = new Y.Doc(),
  params: Record<string, string> = {},
): Promise<WebsocketProvider> {
  const provider = connect(httpUrl, docName, doc, params)
  await waitFor(`${docName} to sync`, () => provider.synced)
  return provider
}

export function destroyProviders(): void {
  for (const provider of open.splice(0)) {
    provider.doc.destroy()
    provider.destroy()
  }
}

/** True when both documents hold the same structs and the same deletions, hence the same content. */
export function sameState(a: Y.Doc, b: Y.Doc): boolean {
  return Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b))
}
