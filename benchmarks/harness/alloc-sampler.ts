/**
 * Loaded into a benchmark server with `SYNCMESH_BENCH_NODE_FLAGS="--import <checkout>/dist/benchmarks/harness/alloc-sampler.js"`
 * and `SYNCMESH_BENCH_ALLOC_PROF=DIR`: samples every allocation of the process, collected ones included (Node's
 * own `--heap-prof` keeps only what is still alive at the end, which says nothing about GC pressure), and writes
 * `DIR/alloc-<pid>.heapprofile` when the server gets SIGTERM — a file Chrome DevTools' Memory tab opens.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { join } from 'node:path'

const dir = process.env.SYNCMESH_BENCH_ALLOC_PROF
if (dir) {
  const session = new Session()
  session.connect()
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 2048,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  // Before the server's own handler, which exits; a same-thread session answers synchronously.
  process.prependListener('SIGTERM', () => {
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (err) console.error(`allocation sampling failed: ${err.message}`)
      else writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify(result.profile))
    })
  })
}
