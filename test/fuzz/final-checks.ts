import { get } from 'node:http'
import * as Y from 'yjs'
import type { WebsocketProvider } from 'y-websocket'
import { connect } from '../helpers/clients.js'
import { waitFor } from '../helpers/wait.js'
import type { Target } from './fuzz-input.js'

/**
 * After the fuzzing: the node answers /healthz, every stored document still loads into a fresh Y.Doc, and two
 * stock providers still sync an edit through it. Returns what failed.
 */
export async function checkStillServing(target: Target, seed: number): Promise<string[]> {
  try {
    const health = await fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(5_000) })
    if (health.status !== 200) return [`/healthz answered ${health.status}`]
    return [...(await unloadableDocs(target)), ...(await syncProblem(target, seed))]
  } catch (err) {
    return [`the node stopped answering: ${(err as Error).message}`]
  }
}

async function unloadableDocs(target: Target): Promise<string[]> {
  const problems: string[] = []
  const headers = { authorization: `Bearer ${target.adminToken}` }
  let cursor: string | null = null
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
    const res = await fetch(`${target.url}/v1/docs?limit=1000${query}`, { headers })
    if (res.status !== 200) return [`GET /v1/docs answered ${res.status}: ${await res.text()}`]
    const page = (await res.json()) as { docs: { name: string }[]; nextCursor: string | null }
    for (const { name } of page.docs) {
      const problem = await loadProblem(target, name, headers)
      if (problem) problems.push(`stored document ${JSON.stringify(name)}: ${problem}`)
    }
    cursor = page.nextCursor
  } while (cursor !== null)
  return problems
}

async function loadProblem(target: Target, name: string, headers: Record<string, string>): Promise<string | null> {
  let path: string
  try {
    // Dots too: a name such as `..` must not read as a path segment.
    path = `/v1/docs/${encodeURIComponent(name).replaceAll('.', '%2E')}/update`
  } catch {
    return 'its name cannot be percent-encoded'
  }
  const res = await verbatimGet(target, path, headers)
  if (res.status !== 200) return `GET ${path} answered ${res.status}: ${res.body.toString().slice(0, 300)}`
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, res.body)
    return null
  } catch (err) {
    return `its update does not apply to a fresh Y.Doc: ${(err as Error).message}`
  } finally {
    doc.destroy()
  }
}

/** A GET whose path goes out as written: fetch would resolve `%2E%2E` segments before sending. */
function verbatimGet(target: Target, path: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port: target.port, path, headers, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
  })
}

/** In a namespace of its own, which no fuzz input declares or restricts. */
async function syncProblem(target: Target, seed: number): Promise<string[]> {
  const name = `fuzz-check/seed-${seed}`
  const providers: WebsocketProvider[] = []
  try {
    const [writer, reader] = [connect(target.url, name), connect(target.url, name)]
    providers.push(writer, reader)
    await waitFor(`two providers on ${name} to sync`, () => writer.synced && reader.synced, 5_000)
    writer.doc.getText('body').insert(0, 'still syncing')
    await waitFor(`an edit to reach the other provider`, () => reader.doc.getText('body').toString() === 'still syncing', 5_000)
    return []
  } catch (err) {
    return [`stock providers: ${(err as Error).message}`]
  } finally {
    for (const provider of providers) {
      provider.destroy()
      provider.doc.destroy()
    }
  }
}
