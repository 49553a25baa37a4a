import fc from 'fast-check'
import { expect, test } from 'vitest'
import { decodeLogRecord, encodeLogRecord } from '../../src/storage/log-record.js'

test('a log record round-trips its updates in order', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 50 }), (updates) => {
      expect(decodeLogRecord(encodeLogRecord(updates))).toEqual(updates)
    }),
  )
})
