import { afterEach } from 'vitest'
import { takeNodeProcessFailures } from '../helpers/node-process.js'

// A rejection nobody handles would end a node's process: in a test it fails the test that caused it.
const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => unhandled.push(reason))
process.on('uncaughtException', (err) => unhandled.push(err))

afterEach(() => {
  const errors = unhandled.splice(0)
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} unhandled rejection(s) or uncaught exception(s) in this test: ${errors.map(String).join('; ')}`)
  const nodeFailures = takeNodeProcessFailures()
  if (nodeFailures.length > 0) throw new Error(`a node process failed in this test:\n${nodeFailures.join('\n')}`)
})
