/** Hocuspocus as a child process: a bare `Server` (no extensions, so no persistence) on 127.0.0.1, OS-picked port. */
import type { AddressInfo } from 'node:net'
import { Server } from '@hocuspocus/server'

const server = new Server({ quiet: true, stopOnSignals: false })
// Server.listen() hands `address` to http.Server.listen, which reads `host`, so it would bind every interface.
server.httpServer.listen(0, '127.0.0.1', () => {
  const { port } = server.httpServer.address() as AddressInfo
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` }))
})

// Exit normally on SIGTERM, so that a CPU profile (SYNCMESH_BENCH_CPU_PROF) is written.
process.once('SIGTERM', () => process.exit(0))
