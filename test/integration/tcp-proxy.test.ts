import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import { TcpProxy, closeAllProxies } from '../helpers/tcp-proxy.js'
import { waitFor } from '../helpers/wait.js'

const echoServers: Server[] = []
const clients: Socket[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy()
  await closeAllProxies()
  await Promise.all(echoServers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
})

interface EchoServer {
  target: { host: string; port: number }
  /** Connections that reached the echo server. */
  connections: () => number
}

async function startEchoServer(): Promise<EchoServer> {
  let connections = 0
  const server = createServer((socket) => {
    connections++
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  echoServers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port }, connections: () => connections }
}

interface Client {
  socket: Socket
  closed: Promise<void>
  /** Everything received so far. */
  received: () => string
}

async function connectClient(port: number): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port })
  clients.push(socket)
  socket.on('error', () => {})
  let received = ''
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()))
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return { socket, closed, received: () => received }
}

/** Waits until the client has received exactly `expected`; rejects on anything else or a close. */
function receives(client: Client, expected: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = () => {
      if (client.received() === expected) resolve()
      else if (!expected.startsWith(client.received())) reject(new Error(`got ${JSON.stringify(client.received())}`))
    }
    client.socket.on('data', check)
    void client.closed.then(() => reject(new Error(`closed after ${JSON.stringify(client.received())}`)))
    check()
  })
}

/** Sends `text` and waits for it to come back. */
async function echoes(client: Client, text: string): Promise<void> {
  const expected = client.received() + text
  client.socket.write(text)
  await receives(client, expected)
}

/** A connection the proxy refuses closes without ever reaching the target. */
async function expectRefused(proxy: TcpProxy, echo: EchoServer): Promise<void> {
  const before = echo.connections()
  const refusedBefore = proxy.counters.connectionsRefused
  const client = await connectClient(proxy.port)
  await client.closed
  expect(client.received()).toBe('')
  expect(proxy.counters.connectionsRefused).toBe(refusedBefore + 1)
  expect(echo.connections()).toBe(before)
}

test('forwards bytes both ways and counts them', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start(echo.target)
  expect(proxy.url).toBe(`http://127.0.0.1:${proxy.port}`)
  const client = await connectClient(proxy.port)
  await echoes(client, 'hello')
  await echoes(client, ' world')
  expect(proxy.counters).toEqual({ bytesToTarget: 11, bytesFromTarget: 11, bytesDropped: 0, connectionsAccepted: 1, connectionsRefused: 0 })
  expect(echo.connections()).toBe(1)
})

test('the end of one direction is passed on', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start(echo.target)
  const client = await connectClient(proxy.port)
  client.socket.end('last words')
  // The echo server answers and ends its side once it sees the end, which closes the client.
  await client.closed
  expect(client.received()).toBe('last words')
})

test('cut destroys open connections and refuses new ones until heal', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start(echo.target)
  const open = await connectClient(proxy.port)
  await echoes(open, 'before')

  proxy.cut()
  expect(proxy.isCut).toBe(true)
  await open.closed
  await expectRefused(proxy, echo)

  proxy.heal()
  expect(proxy.isCut).toBe(false)
  await echoes(await connectClient(proxy.port), 'after')
  expect(proxy.counters.connectionsAccepted).toBe(2)
})

test('drop discards one direction on an open connection, the other flows, and heal ends it', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start(echo.target)
  const client = await connectClient(proxy.port)

  proxy.drop('toTarget')
  client.socket.write('lost')
  await waitFor('the bytes to be dropped', () => proxy.counters.bytesDropped === 4)
  proxy.heal()
  await echoes(client, 'found')

  proxy.drop('fromTarget')
  client.socket.write('gone')
  // The echo server got them (they passed to the target) and its answer was dropped on the way back.
  await waitFor('the answer to be dropped', () => proxy.counters.bytesDropped === 8)
  expect(proxy.counters.bytesToTarget).toBe(9)
  proxy.heal()
  await echoes(client, 'back')
  expect(client.received()).toBe('foundback')
  expect(echo.connections()).toBe(1)
})

test('a proxy started without a target refuses connections until it gets one', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start()
  await expectRefused(proxy, echo)
  proxy.setTarget(echo.target)
  await echoes(await connectClient(proxy.port), 'late')
})

test('a target that is down ends the client connection', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start(echo.target)
  await new Promise((resolve) => echoServers.pop()!.close(resolve))
  const client = await connectClient(proxy.port)
  await client.closed
  expect(client.received()).toBe('')
})

test('with a delay every chunk still arrives, in order, even when the delay is lowered mid-stream', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start(echo.target)
  proxy.setDelay(30)
  const client = await connectClient(proxy.port)
  client.socket.write('one ')
  client.socket.write('two ')
  proxy.setDelay(0)
  client.socket.write('three')
  await receives(client, 'one two three')
  expect(proxy.counters.bytesToTarget).toBe(13)
})

test('close ends every connection and frees the port; it can be called twice', async () => {
  const echo = await startEchoServer()
  const proxy = await TcpProxy.start(echo.target)
  const client = await connectClient(proxy.port)
  await echoes(client, 'x')
  await proxy.close()
  await client.closed
  await expect(connectClient(proxy.port)).rejects.toThrow(/ECONNREFUSED/)
  await proxy.close()
})

test('closeAllProxies closes every proxy still open', async () => {
  const proxies = [await TcpProxy.start(), await TcpProxy.start()]
  await closeAllProxies()
  for (const proxy of proxies) await expect(connectClient(proxy.port)).rejects.toThrow(/ECONNREFUSED/)
})
