import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

/** How the receiver answers one request: a status, or no answer at all (the sender times out). */
export type ReceiverAnswer = number | 'hang'

export interface ReceivedDelivery {
  id: string
  /** The JSON body, verified with the webhook's secret by the standardwebhooks package. */
  payload: { type: string; timestamp: string; data: { name: string; stateVector: string | null; node: string; cursor: string } }
}

/**
 * A real HTTP server on 127.0.0.1 that takes webhook deliveries: it answers as `answer` says for the n-th
 * request (0-based), and keeps the deliveries it answered 2xx whose Standard Webhooks signature verified.
 */
export class WebhookReceiver {
  readonly accepted: ReceivedDelivery[] = []
  /** Every request's webhook-id and how it was answered, in order. */
  readonly requests: { id: string; answer: ReceiverAnswer }[] = []
  /** Requests whose signature did not verify (answered 400). */
  readonly forged: string[] = []
  answer: (request: number) => ReceiverAnswer = () => 204
  private verifier: Webhook | null = null
  private readonly hanging = new Set<ServerResponse>()

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null
    const server = createServer((req, res) => void receiver!.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)
    return receiver
  }

  /** The `whsec_` secret the registration answered with. */
  verifyWith(secret: string): void {
    this.verifier = new Webhook(secret)
  }

  /** Names of documents with an accepted delivery of `type`. */
  names(type: 'document.updated' | 'document.deleted'): Set<string> {
    return new Set(this.accepted.filter((d) => d.payload.type === type).map((d) => d.payload.data.name))
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy()
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const id = String(req.headers['webhook-id'])
    const answer = this.answer(this.requests.length)
    this.requests.push({ id, answer })
    if (answer === 'hang') {
      this.hanging.add(res)
      return
    }
    if (answer >= 200 && answer < 300) {
      try {
        const payload = this.verifier!.verify(body, req.headers as Record<string, string>) as ReceivedDelivery['payload']
        this.accepted.push({ id, payload })
      } catch {
        this.forged.push(id)
        res.writeHead(400).end()
        return
      }
    }
    res.writeHead(answer).end()
  }
}
