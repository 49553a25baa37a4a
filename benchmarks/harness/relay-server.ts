/**
 * The floor for fan-out, as a child process: a bare `ws` relay that forwards every frame a client sends, with
 * `ws.send`, to every other client of the same URL, and nothing else — no document, no decoding, no storage.
 * Its one piece of protocol is the answer to a client's sync step 1 (an empty sync step 2), which y-websocket
 * clients and the benchmark's raw readers wait for before they count as synced.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

const syncStep1 = [0, 0]
/** messageSync, messageYjsSyncStep2, an empty update (no structs, no deletions). */
const emptySyncStep2 = new Uint8Array([0, 1, 2, 0, 0])
const rooms = new Map<string, Set<WebSocket>>()

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
wss.on('connection', (ws: WebSocket, url: string) => {
  const room = rooms.get(url) ?? new Set<WebSocket>()
  rooms.set(url, room)
  room.add(ws)
  ws.on('message', (data: Buffer) => {
    if (data[0] === syncStep1[0] && data[1] === syncStep1[1]) {
      ws.send(emptySyncStep2)
      return
    }
    for (const other of room) if (other !== ws) other.send(data)
  })
  ws.on('close', () => room.delete(ws))
})

const server = createServer((_request, response) => response.end('okay'))
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request.url ?? '/'))
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` }))
})

// Exit normally on SIGTERM, so that a CPU profile (SYNCMESH_BENCH_CPU_PROF) is written.
process.once('SIGTERM', () => process.exit(0))
