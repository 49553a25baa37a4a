import type { Rng } from '../sim/rng.js'

/** Documents the fuzzer writes to: few, so that inputs land on documents that already hold state. */
export const fuzzDocNames = ['fz/a', 'fz/b', 'notes/one', 'plain', 'fz/ü😀', 'x']

/** Names a node must refuse or handle with care: empty, reserved, too long, odd characters. */
const oddDocNames = ['', '_peer', 'n'.repeat(513), 'é'.repeat(257), '/', '.', '..', '%', 'a\u0000b', '\ud800', ' ', 'fz/']

/**
 * Documents that no WebSocket session opens, so that the node does not hold them in memory: what REST and peers
 * write there is read back from storage as stored, not re-encoded from a loaded Y.Doc.
 */
const coldDocNames = ['cold/a', 'cold/b', 'cold/c']

export function docName(rng: Rng): string {
  return rng.chance(0.85) ? rng.pick(fuzzDocNames) : rng.pick(oddDocNames)
}

/** A name for writers other than WebSocket sessions: often a cold document. */
export function storedDocName(rng: Rng): string {
  return rng.chance(0.4) ? rng.pick(coldDocNames) : docName(rng)
}

/** Percent-encoding that never throws: a lone surrogate, which has no UTF-8 form, goes as U+FFFD. */
export const percentEncoded = (text: string): string => encodeURIComponent(text.replace(/\p{Surrogate}/gu, '\ufffd'))

/** The request path of a document endpoint, percent-encoded as a client would, or with its slashes left bare. */
export function docPath(rng: Rng): string {
  const encoded = percentEncoded(docName(rng))
  return '/' + (rng.chance(0.7) ? encoded : encoded.replaceAll('%2F', '/'))
}

const oddTargets = [
  '//x:99999/d',
  '//x:80/d',
  'http://[::1',
  'http://127.0.0.1/fz/a',
  'ws://127.0.0.1:1/fz/a',
  'http://user:pw@host:0/x',
  '//[::1]:80/d',
  '*',
  '',
  '/',
  '///',
  '/?',
  '?x',
  '#',
  '/%',
  '/%zz',
  '/%ff',
  '/%E0%A4%A',
  '/%ED%A0%80',
  '/%00',
  '/fz%2Fa?token=%',
  '/fz/a?token=&token=x',
  '/fz/a#frag',
  '/_peer?x=1',
  '//_peer',
  '/_peer/',
  '/_peer/../fz/a',
  '/..%2f..%2fetc',
  '/\u00e9',
  '/a b',
  '@@',
  '/v1/docs',
  '/v1/docs/fz%2Fa/update',
  '/healthz',
]

/** A request target that URL parsers, percent-decoding and routers disagree about. */
export function oddTarget(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return '/' + 'a'.repeat(rng.pick([600, 5000, 70_000]))
    case 1:
      return '/fz/a?' + 'k=v&'.repeat(rng.pick([10, 3000]))
    case 2:
      return '/' + '%'.repeat(1 + rng.int(3)) + rng.pick(['', '2', 'g1', 'c3%28'])
    default:
      return rng.pick(oddTargets)
  }
}
