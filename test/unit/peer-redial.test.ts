import { expect, test } from 'vitest'
import { defaultPeerTuning, redialDelayMs } from '../../src/peer/peer-tuning.js'

test('the redial delay doubles with each failed dial, from redialMinMs up to redialMaxMs, with jitter in its upper half', () => {
  const { redialMinMs, redialMaxMs } = defaultPeerTuning
  expect(redialMaxMs).toBeGreaterThanOrEqual(8 * redialMinMs)
  for (let failed = 0; failed < 12; failed++) {
    const ceiling = Math.min(redialMaxMs, redialMinMs * 2 ** failed)
    const delays = Array.from({ length: 200 }, () => redialDelayMs(failed, defaultPeerTuning))
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(ceiling / 2)
    expect(Math.max(...delays)).toBeLessThanOrEqual(ceiling)
    // Jitter: the two ends of a link do not redial in lockstep.
    expect(new Set(delays).size).toBeGreaterThan(100)
  }
  expect(redialDelayMs(50, defaultPeerTuning)).toBeLessThanOrEqual(redialMaxMs)
})
