import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

export interface ProxyTarget {
  host: string
  port: number
}

/** Which way bytes flow through a proxy: from the dialing client to the target, or back. */
export type ProxyDirection = 'toTarget' | 'fromTarget'

export interface ProxyCounters {
  /** Bytes written to the target, and back to the clients. */
  bytesToTarget: number
  bytesFromTarget: number
  /** Bytes discarded by drop(), either way. */
  bytesDropped: number
  /** Connections forwarded to the target. */
  connectionsAccepted: number
  /** Connections destroyed on arrival: cut, closing, or no target yet. */
  connectionsRefused: number
}

const openProxies = new Set<TcpProxy>()

/**
 * A TCP forwarder on 127.0.0.1 that a test can cut like a network partition (open connections die, new ones
 * are refused until heal) or slow down. Its counters show whether traffic really passes through it.
 */
export class TcpProxy {
  readonly counters: ProxyCounters = { bytesToTarget: 0, bytesFromTarget: 0, bytesDropped: 0, connectionsAccepted: 0, connectionsRefused: 0 }
  private target: ProxyTarget | null
  private cutOff = false
  private delayMs = 0
  private dropped: ProxyDirection | null = null
  /** Both ends of every forwarded connection. */
  private readonly sockets = new Set<Socket>()
  private closing: Promise<void> | null = null

  private constructor(
    private readonly server: Server,
    readonly port: number,
    target: ProxyTarget | null,
  ) {
    this.target = target
    server.on('connection', (client) => this.accept(client))
  }

  static async start(target?: ProxyTarget): Promise<TcpProxy> {
    // Half-open both ways, so that the end of one direction is passed on without cutting the other.
    const server = createServer({ allowHalfOpen: true })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port, target ?? null)
    openProxies.add(proxy)
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get isCut(): boolean {
    return this.cutOff
  }

  /** Applies to connections accepted from now on. */
  setTarget(target: ProxyTarget): void {
    this.target = target
  }

  /** Holds back every chunk, in both directions, this long before passing it on; order is kept. */
  setDelay(ms: number): void {
    this.delayMs = ms
  }

  cut(): void {
    this.cutOff = true
    for (const socket of this.sockets) socket.destroy()
  }

  /**
   * Silently discards every byte flowing `direction` from now on, on open and new connections alike: a
   * one-way partition that TCP itself does not notice. heal() ends it.
   */
  drop(direction: ProxyDirection): void {
    this.dropped = direction
  }

  heal(): void {
    this.cutOff = false
    this.dropped = null
  }

  close(): Promise<void> {
    return (this.closing ??= new Promise<void>((resolve) => {
      openProxies.delete(this)
      for (const socket of this.sockets) socket.destroy()
      this.server.close(() => resolve())
    }))
  }

  private accept(client: Socket): void {
    client.on('error', () => {})
    if (this.cutOff || this.closing || this.target === null) {
      this.counters.connectionsRefused++
      client.destroy()
      return
    }
    this.counters.connectionsAccepted++
    const upstream = connect({ ...this.target, allowHalfOpen: true })
    upstream.on('error', () => {})
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(socket)
      // A reset, or a target that refuses, ends the other side too.
      socket.on('close', (hadError) => {
        this.sockets.delete(socket)
        if (hadError) other.destroy()
      })
    }
    const delayMs = () => this.delayMs
    const passes = (direction: ProxyDirection) => (bytes: number) => {
      if (this.dropped !== direction) return true
      this.counters.bytesDropped += bytes
      return false
    }
    forward(client, upstream, delayMs, passes('toTarget'), (bytes) => (this.counters.bytesToTarget += bytes))
    forward(upstream, client, delayMs, passes('fromTarget'), (bytes) => (this.counters.bytesFromTarget += bytes))
  }
}

/** Closes every proxy not closed yet; for afterEach. */
export async function closeAllProxies(): Promise<void> {
  await Promise.all([...openProxies].map((proxy) => proxy.close()))
}

/**
 * Copies `from` into `to`, each chunk held back `delayMs()` in arrival order (or discarded when `passes` says
 * so), and passes on the end.
 */
function forward(
  from: Socket,
  to: Socket,
  delayMs: () => number,
  passes: (bytes: number) => boolean,
  forwarded: (bytes: number) => void,
): void {
  const queue: { chunk: Buffer; dueAt: number }[] = []
  let timer: NodeJS.Timeout | null = null
  let ended = false

  const write = (chunk: Buffer) => {
    if (to.destroyed) return
    forwarded(chunk.byteLength)
    if (!to.write(chunk)) {
      from.pause()
      to.once('drain', () => from.resume())
    }
  }
  const flush = () => {
    timer = null
    while (queue.length > 0 && queue[0]!.dueAt <= Date.now()) write(queue.shift()!.chunk)
    if (queue.length > 0) timer = setTimeout(flush, Math.max(1, queue[0]!.dueAt - Date.now()))
    else if (ended && !to.destroyed) to.end()
  }

  from.on('data', (chunk: Buffer) => {
    if (!passes(chunk.byteLength)) return
    const delay = delayMs()
    if (delay === 0 && queue.length === 0) return write(chunk)
    queue.push({ chunk, dueAt: Date.now() + delay })
    timer ??= setTimeout(flush, delay)
  })
  from.on('end', () => {
    ended = true
    if (queue.length === 0 && !to.destroyed) to.end()
  })
  to.on('close', () => {
    if (timer) clearTimeout(timer)
    queue.length = 0
  })
}
