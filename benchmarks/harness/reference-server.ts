/**
 * The reference server as a child process: what @y/websocket-server's bin (src/server.js) does, in its
 * persistence-free default, but bound to 127.0.0.1 on a port the OS picks, which it prints when ready.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { setupWSConnection } from '@y/websocket-server/utils'

const wss = new WebSocketServer({ noServer: true })
wss.on('connection', setupWSConnection)

const server = createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request))
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` }))
})

// Exit normally on SIGTERM, so that a CPU profile (SYNCMESH_BENCH_CPU_PROF) is written.
process.once('SIGTERM', () => process.exit(0))
