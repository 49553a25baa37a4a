import { afterEach, expect, test } from 'vitest'
import { startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import { closeAllProxies } from '../helpers/tcp-proxy.js'

let cluster: ProxiedCluster | null = null

afterEach(async () => {
  await cluster?.close()
  cluster = null
  await closeAllProxies()
})

test('peer links run through the proxies: a partition leaves the majority its own leader, and healed or restarted nodes rejoin', async () => {
  cluster = await startProxiedCluster()
  const c = cluster
  for (const [a, b] of [['n1', 'n2'], ['n1', 'n3'], ['n2', 'n3']] as const) {
    const pairBytes = c.proxy(a, b).counters.bytesToTarget + c.proxy(b, a).counters.bytesToTarget
    expect(pairBytes, `bytes through the proxies of ${a} and ${b}`).toBeGreaterThan(0)
  }

  c.partition(['n1'], ['n2', 'n3'])
  expect(['n2', 'n3'].map((id) => [c.proxy('n1', id).isCut, c.proxy(id, 'n1').isCut])).toEqual([[true, true], [true, true]])
  expect(c.proxy('n2', 'n3').isCut).toBe(false)
  expect(['n2', 'n3']).toContain(await c.waitForLeader(['n2', 'n3']))

  c.heal()
  await c.waitForLeader(['n1', 'n2', 'n3'])

  await c.stop('n3')
  expect(await c.view('n3')).toBeNull()
  await c.restart('n3')
  // n3 learns the leader only from Raft messages, and those reach it only through the proxies.
  await c.waitForLeader(['n1', 'n2', 'n3'])
  expect((await c.view('n3'))!.members).toHaveLength(3)
})
