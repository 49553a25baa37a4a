import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { messageYjsSyncStep2, messageYjsUpdate } from 'y-protocols/sync'
import type { ServerProcess } from './servers.js'

const messageSync = 0
const messageAuth = 2
/** Hocuspocus only: a sync message the server sends in reply to the client's sync step 1. */
const messageSyncReply = 4
const authPermissionDenied = 1
/** The state vector of an empty document. */
const emptyStateVector = new Uint8Array([0])

/**
 * A read-only client that speaks just enough of the server's protocol to sync an empty document and then
 * hands every document update it receives to `onUpdate`, undecoded. Far cheaper than a provider, so that a
 * thousand of them fit next to the server on two cores. Hocuspocus frames start with the document name and
 * need an authentication message first; the y-websocket servers' frames do not.
 */
export class RawReader {
  private constructor(private readonly ws: WebSocket) {}

  static connect(server: ServerProcess, docName: string, onUpdate: (update: Uint8Array) => void): Promise<RawReader> {
    const hocuspocus = server.kind === 'hocuspocus'
    const ws = new WebSocket(hocuspocus ? server.wsUrl : `${server.wsUrl}/${encodeURIComponent(docName)}`, {
      perMessageDeflate: false,
    })
    const frame = (write: (encoder: encoding.Encoder) => void): Uint8Array => {
      const encoder = encoding.createEncoder()
      if (hocuspocus) encoding.writeVarString(encoder, docName)
      write(encoder)
      return encoding.toUint8Array(encoder)
    }
    return new Promise((resolve, reject) => {
      let synced = false
      ws.on('error', reject)
      ws.once('close', (code) => reject(new Error(`${server.kind} closed a reader of ${docName} with ${code}`)))
      ws.once('open', () => {
        if (hocuspocus) {
          ws.send(
            frame((e) => {
              encoding.writeVarUint(e, messageAuth)
              encoding.writeVarUint(e, 0)
              encoding.writeVarString(e, '')
            }),
          )
        }
        ws.send(
          frame((e) => {
            encoding.writeVarUint(e, messageSync)
            encoding.writeVarUint(e, 0)
            encoding.writeVarUint8Array(e, emptyStateVector)
          }),
        )
      })
      ws.on('message', (data: Buffer) => {
        const decoder = decoding.createDecoder(data)
        if (hocuspocus) decoding.readVarString(decoder)
        const type = decoding.readVarUint(decoder)
        if (type === messageAuth && decoding.readVarUint(decoder) === authPermissionDenied) {
          reject(new Error(`${server.kind} denied a reader of ${docName}`))
          return
        }
        if (type !== messageSync && type !== messageSyncReply) return
        const syncType = decoding.readVarUint(decoder)
        if (syncType === messageYjsUpdate) {
          onUpdate(decoding.readVarUint8Array(decoder))
        } else if (syncType === messageYjsSyncStep2 && !synced) {
          synced = true
          resolve(new RawReader(ws))
        }
      })
    })
  }

  close(): void {
    this.ws.terminate()
  }
}
