import * as Y from 'yjs'
import { encodeSyncUpdate } from '../../src/protocol/y-websocket.js'
import { Rng } from '../sim/rng.js'
import { hex } from './bytes.js'
import type { EdgeName, FuzzInput } from './fuzz-input.js'
import { restUpdateWrite } from './rest.js'
import { tcpExchange } from './tcp.js'
import { encodeFrame, upgradeRequest } from './ws-wire.js'

/** Keys and masks of the corpus need no randomness; a fixed PRNG keeps its bytes the same in every run. */
const fixed = () => new Rng(0)

/** A valid update: client 1 inserts "x" into root `body`. */
function smallUpdate(): Uint8Array {
  const doc = new Y.Doc({ guid: 'seed-corpus' })
  doc.clientID = 1
  doc.getText('body').insert(0, 'x')
  return Y.encodeStateAsUpdate(doc)
}

const Frame = {
  unmasked: (payload: Uint8Array) => encodeFrame(fixed(), { fin: true, rsv: 0, opcode: 2, masked: false, payload }),
  reservedBit: (payload: Uint8Array) => encodeFrame(fixed(), { fin: true, rsv: 4, opcode: 2, masked: true, payload }),
  oversizedPing: () => encodeFrame(fixed(), { fin: true, rsv: 0, opcode: 9, masked: true, payload: new Uint8Array(126) }),
  binary: (payload: Uint8Array) => encodeFrame(fixed(), { fin: true, rsv: 0, opcode: 2, masked: true, payload }),
}

const fromHex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'))

function upgradeThen(edge: EdgeName, path: string, frames: Uint8Array, why: string, extraHeaders = ''): FuzzInput {
  const request = Buffer.from(upgradeRequest(path, fixed(), extraHeaders), 'latin1')
  const headers = extraHeaders ? ` with ${JSON.stringify(extraHeaders)}` : ''
  const after = frames.byteLength > 0 ? `, then in the same write bytes ${hex(frames)}` : ''
  return {
    edge,
    describe: `seed corpus (${why}): upgrade ${JSON.stringify(path)}${headers}${after}`,
    send: (target) => tcpExchange(target.port, { first: Buffer.concat([request, frames]), waitMs: 150 }),
  }
}

/**
 * Minimal reproductions of what crashed or broke a node before, sent at the start of every run, so that even a
 * short one covers them; the random inputs follow. A new finding belongs here once it has a minimal form.
 */
export function seedCorpus(): FuzzInput[] {
  const update = encodeSyncUpdate(smallUpdate())
  return [
    // `new URL` threw on these targets during the upgrade, an unhandled rejection.
    upgradeThen('raw-http', '//x:99999/d', new Uint8Array(), 'a target new URL refuses'),
    upgradeThen('raw-http', 'http://[::1', new Uint8Array(), 'a target new URL refuses'),
    upgradeThen('raw-http', '/fz/a', new Uint8Array(), 'a Host that is not a host', 'Host: [::1\r\n'),
    // The socket of a refused document name had no error listener when a protocol error came.
    upgradeThen('ws-wire', '/', Frame.unmasked(new Uint8Array()), 'an empty name, then an unmasked frame'),
    upgradeThen('ws-wire', '/%zz', Frame.reservedBit(new Uint8Array()), 'broken percent-encoding, then RSV1'),
    upgradeThen('ws-wire', '/' + 'n'.repeat(513), Frame.oversizedPing(), 'a name over 512 bytes, then a 126-byte ping'),
    // Names that are dot segments: stored, but a REST path cannot name them.
    upgradeThen('ws-wire', '/..', Frame.binary(update), 'a document named ".."'),
    upgradeThen('ws-wire', '/%2E', Frame.binary(update), 'a document named "."'),
    // Updates Y.decodeUpdate reads but Y.applyUpdate throws on, which were stored and then served.
    restUpdateWrite('cold%2Fa', fromHex('000103020f102a00'), 'a deletion of length 0'),
    restUpdateWrite('cold%2Fb', fromHex('010187f7fa8e02008487f7fa8e0201010a00'), 'an origin at a later clock of its own client'),
  ]
}
