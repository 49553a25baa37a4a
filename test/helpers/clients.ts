import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { waitFor } from './wait.js'

const open: WebsocketProvider[] = []

/** A stock y-websocket provider on `docName`, over the `ws` package (Node 20 has no global WebSocket). */
export function connect(httpUrl: string, docName: string, doc = new Y.Doc()): WebsocketProvider {
  const provider = new WebsocketProvider(httpUrl.replace(/^http/, 'ws'), docName, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: 200,
  })
  open.push(provider)
  return provider
}

export async function connectSynced(httpUrl: string, docName: string, doc = new Y.Doc()): Promise<WebsocketProvider> {
  const provider = connect(httpUrl, docName, doc)
  await waitFor(`${docName} to sync`, () => provider.synced)
  return provider
}

export function destroyProviders(): void {
  for (const provider of open.splice(0)) {
    provider.doc.destroy()
    provider.destroy()
  }
}

/** True when both documents hold the same structs and deletions. */
export function sameState(a: Y.Doc, b: Y.Doc): boolean {
  return (
    Buffer.compare(Buffer.from(Y.encodeStateVector(a)), Buffer.from(Y.encodeStateVector(b))) === 0 &&
    Y.diffUpdate(Y.encodeStateAsUpdate(a), Y.encodeStateVector(b)).byteLength <= 2 &&
    Y.diffUpdate(Y.encodeStateAsUpdate(b), Y.encodeStateVector(a)).byteLength <= 2 &&
    JSON.stringify(a.toJSON()) === JSON.stringify(b.toJSON())
  )
}
