import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, test } from 'vitest'
import { listSegments, readSegment, segmentPath } from '../../src/storage/raft-wal/segment-file.js'
import { encodeRecord, encodeSegmentHeader, recordHeaderBytes, segmentHeaderBytes } from '../../src/storage/raft-wal/wal-format.js'
import { adminApi } from '../helpers/admin-api.js'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

const mainJs = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist/server/main.js')
const secret = 'raft-wal-cluster-secret'
const adminToken = 'raft-wal-admin-token'

afterEach(async () => {
  await killAllNodes()
  removeTempDirs()
})

const flags = (id: string, data: string, extra: string[] = []) => [
  ...['--id', id, '--data', data, '--cluster-secret', secret, '--admin-token', adminToken],
  ...['--raft-tick-ms', '50', '--control-timeout-ms', '3000', ...extra],
]

const api = (url: string, method: string, path: string, body?: unknown) => adminApi(adminToken, url, method, path, body)

const putNamespace = (url: string, name: string) => api(url, 'PUT', `/v1/namespaces/${name}`, { schema: { roots: { body: 'text' } } })

async function namespaces(url: string): Promise<string[]> {
  const { json } = await api(url, 'GET', '/v1/namespaces')
  return (json.namespaces as { name: string }[]).map((n) => n.name)
}

/** Writes `bytes` into the last WAL segment just past its last record, where the next record would go. */
function writePastLastRecord(data: string, bytes: Uint8Array): { segment: string; keptBytes: number; droppedBytes: number } {
  const { path, sequence } = listSegments(join(data, 'raft-wal')).at(-1)!
  const end = readSegment(path, sequence).scan.end
  const fd = openSync(path, 'r+')
  writeSync(fd, bytes, 0, bytes.length, end)
  closeSync(fd)
  return { segment: path, keptBytes: end, droppedBytes: statSync(path).size - end }
}

test('kill -9 during a storm of metadata writes: every write that was answered 200 is there after the restart', async () => {
  const data = tempDir()
  const node = await NodeProcess.start(flags('n1', data))
  await waitFor('n1 to lead', async () => (await api(node.url, 'GET', '/v1/cluster')).json?.leader === 'n1')
  const answered: string[] = []
  let next = 0
  let stop = false
  const writer = async () => {
    while (!stop) {
      const name = `ns-${next++}`
      try {
        if ((await putNamespace(node.url, name)).status === 200) answered.push(name)
      } catch {
        return // the process is gone
      }
    }
  }
  const writers = Array.from({ length: 16 }, writer)
  await waitFor('300 answered writes', () => answered.length >= 300)
  await node.kill('SIGKILL')
  stop = true
  await Promise.all(writers)

  const restarted = await NodeProcess.start(flags('n1', data, ['--port', new URL(node.url).port]))
  await waitFor('n1 to lead again', async () => (await api(restarted.url, 'GET', '/v1/cluster')).json?.leader === 'n1')
  const present = new Set(await namespaces(restarted.url))
  expect(answered.filter((name) => !present.has(name))).toEqual([])
})

test('a follower killed mid-write with a torn record at the end of its WAL cuts it off, says so, and rejoins', async () => {
  const dirs = [tempDir(), tempDir(), tempDir()]
  const n1 = await NodeProcess.start(flags('n1', dirs[0]!))
  await waitFor('n1 to lead', async () => (await api(n1.url, 'GET', '/v1/cluster')).json?.leader === 'n1')
  const n2 = await NodeProcess.start(flags('n2', dirs[1]!, ['--join', n1.url]))
  const n3 = await NodeProcess.start(flags('n3', dirs[2]!, ['--join', n1.url]))
  const voters = async (url: string) =>
    ((await api(url, 'GET', '/v1/cluster')).json?.members as { id: string; role: string }[] | undefined)
      ?.filter((m) => m.role === 'voter')
      .map((m) => m.id)
      .sort()
      .join()
  await waitFor('three voters', async () => (await voters(n1.url)) === 'n1,n2,n3')
  expect((await putNamespace(n1.url, 'before')).status).toBe(200)
  await waitFor('n3 to have it', async () => (await namespaces(n3.url)).includes('before'))

  await n3.kill('SIGKILL')
  // What a crash in the middle of a write leaves: the first part of a record, where the next one goes.
  const torn = writePastLastRecord(dirs[2]!, encodeRecord(new Uint8Array(200).fill(9), 0).bytes.subarray(0, 90))
  expect((await putNamespace(n1.url, 'while-down')).status).toBe(200)

  const back = await NodeProcess.start(flags('n3', dirs[2]!, ['--port', new URL(n3.url).port]))
  await waitFor('n3 to catch up', async () => (await namespaces(back.url)).includes('while-down'))
  expect(await voters(back.url)).toBe('n1,n2,n3')
  const cut = back.logLines.map((line) => JSON.parse(line)).filter((line) => line.msg?.startsWith('raft WAL: cut off a torn record'))
  expect(cut).toEqual([expect.objectContaining({ level: 40, ...torn })])
  // It takes writes as a voter again: a write needs two of three, and n3 is one of the two left.
  await n2.kill('SIGKILL')
  await sleep(200)
  expect((await putNamespace(n1.url, 'after')).status).toBe(200)
  await waitFor('n3 to have the last write', async () => (await namespaces(back.url)).includes('after'))
})

test('a damaged record before the end of the Raft WAL stops the start with one line that names the segment and says what to do', async () => {
  const data = tempDir()
  const node = await NodeProcess.start(flags('n1', data))
  await waitFor('n1 to lead', async () => (await api(node.url, 'GET', '/v1/cluster')).json?.leader === 'n1')
  expect((await putNamespace(node.url, 'before')).status).toBe(200)
  await node.kill('SIGKILL')
  const [first] = listSegments(join(data, 'raft-wal'))
  // A second segment after the first, as a roll-over leaves it: the damage is no longer at the end.
  writeFileSync(segmentPath(join(data, 'raft-wal'), first!.sequence + 1), encodeSegmentHeader(first!.sequence + 1))
  const bytes = readFileSync(first!.path)
  bytes[segmentHeaderBytes + recordHeaderBytes + 2]! ^= 0xff
  writeFileSync(first!.path, bytes)

  const out = spawnSync(process.execPath, [mainJs, 'start', '--port', '0', ...flags('n1', data)], { encoding: 'utf8', timeout: 20_000 })
  expect(out.status).toBe(1)
  expect(out.stderr).toMatch(new RegExp(`^syncmesh: ${first!.path} is damaged at offset \\d+, and later segments follow it\\. The Raft log of this node cannot be read`))
  expect(out.stderr.trim().split('\n')).toHaveLength(1)
  expect(out.stdout).not.toContain('"msg":"listening"')
})
