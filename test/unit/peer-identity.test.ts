import { describe, expect, test } from 'vitest'
import { answerChallenge, checkHello, checkWelcome, createChallenge, type Challenge, type Hello } from '../../src/peer/handshake.js'
import { generateNodeIdentity, keyFingerprint, type NodeIdentity } from '../../src/peer/node-identity.js'
import { PeerCloseCode } from '../../src/protocol/close-codes.js'

const secret = Buffer.from('the cluster secret of the tests')
const n1 = generateNodeIdentity()
const n2 = generateNodeIdentity()
const stranger = generateNodeIdentity()
/** What the metadata holds: n1 and n2 with their keys, n0 from before node keys. */
const onRecord: Record<string, string> = { n1: n1.publicKey, n2: n2.publicKey }
const keyOf = (id: string) => onRecord[id]
const isPeer = (id: string) => ['n0', 'n1', 'n2'].includes(id)

/** n1 accepting a hello; the dialer is whoever signed it. */
function accept(challenge: Challenge, hello: Hello) {
  return checkHello({ secret, acceptorId: 'n1', identity: n1, challenge, hello, isPeer, keyOf })
}

function hello(dialerId: string, identity: NodeIdentity | undefined, challenge = createChallenge()) {
  return { challenge, hello: answerChallenge({ secret, dialerId, acceptorId: 'n1', challenge, ...(identity && { identity }) }) }
}

const refusedWith = (reason: string) => ({ ok: false, code: PeerCloseCode.authenticationFailed, reason })

describe('the dialer proves the node key on record for the id it claims', () => {
  test('a dialer that signs with its own key is let in, and the acceptor signs its welcome in turn', () => {
    const { challenge, hello: signed } = hello('n2', n2)
    const accepted = accept(challenge, signed)
    expect(accepted).toMatchObject({ ok: true, dialerId: 'n2', dialerKey: n2.publicKey })
    if (!accepted.ok) return
    expect(checkWelcome({ secret, challenge, hello: signed, welcome: accepted.welcome, keyOf })).toEqual({ ok: true, acceptorKey: n1.publicKey })
  })

  test('a holder of the cluster secret that signs with another key is refused, naming both keys', () => {
    const { challenge, hello: forged } = hello('n2', stranger)
    expect(accept(challenge, forged)).toEqual(
      refusedWith(`n2 has node key ${keyFingerprint(stranger.publicKey)}, not ${keyFingerprint(n2.publicKey)} on record`),
    )
  })

  test('a hello without a key proof is refused for an id whose key is on record', () => {
    const { challenge, hello: unsigned } = hello('n2', undefined)
    expect(accept(challenge, unsigned)).toEqual(refusedWith(`n2 proved no node key; key ${keyFingerprint(n2.publicKey)} is on record for it`))
  })

  test("n2's key proof replayed with a fresh secret proof, on a new connection, is refused", () => {
    const captured = hello('n2', n2).hello
    const { challenge, hello: fresh } = hello('n2', undefined)
    // The replayer holds the secret, so its HMAC proof over the new challenge is good; only the signature is old.
    expect(accept(challenge, { ...fresh, keyProof: captured.keyProof! })).toEqual(
      refusedWith(`n2 failed to prove node key ${keyFingerprint(n2.publicKey)}`),
    )
  })

  test("n2's key proof for the same challenge but another dialer nonce is refused", () => {
    const challenge = createChallenge()
    const captured = hello('n2', n2, challenge).hello
    const again = hello('n2', undefined, challenge).hello
    expect(accept(challenge, { ...again, keyProof: captured.keyProof! })).toEqual(refusedWith(`n2 failed to prove node key ${keyFingerprint(n2.publicKey)}`))
  })

  test("a key proof n2 made as acceptor does not pass as n2's proof as dialer (swapped roles and ids)", () => {
    // n1 dials n2; n2 signs its welcome. A secret holder then dials n1 as n2, over the same nonces, reusing that proof.
    const challenge = createChallenge()
    const n1Hello = answerChallenge({ secret, dialerId: 'n1', acceptorId: 'n2', challenge, identity: n1 })
    const n2Accepts = checkHello({ secret, acceptorId: 'n2', identity: n2, challenge, hello: n1Hello, isPeer, keyOf })
    if (!n2Accepts.ok) throw new Error(n2Accepts.reason)
    const swapped = answerChallenge({ secret, dialerId: 'n2', acceptorId: 'n1', challenge })
    expect(accept(challenge, { ...swapped, keyProof: n2Accepts.welcome.keyProof! })).toEqual(
      refusedWith(`n2 failed to prove node key ${keyFingerprint(n2.publicKey)}`),
    )
  })

  test("n2's key proof made for another acceptor, over this acceptor's challenge, is refused (a relayed hello)", () => {
    // A secret holder posing as n3 passes n1's challenge on to n2, then hands n2's answer to n1 with its ids fixed up.
    const challenge = createChallenge()
    const forN3 = answerChallenge({ secret, dialerId: 'n2', acceptorId: 'n3', challenge, identity: n2 })
    const relayed = answerChallenge({ secret, dialerId: 'n2', acceptorId: 'n1', challenge })
    expect(accept(challenge, { ...relayed, keyProof: forN3.keyProof! })).toEqual(refusedWith(`n2 failed to prove node key ${keyFingerprint(n2.publicKey)}`))
  })

  test('a member from before node keys is let in by the cluster secret alone, with a key proof or without', () => {
    const unsigned = hello('n0', undefined)
    expect(accept(unsigned.challenge, unsigned.hello)).toMatchObject({ ok: true, dialerId: 'n0', dialerKey: null, welcome: { type: 'welcome' } })
    const signed = hello('n0', stranger)
    expect(accept(signed.challenge, signed.hello)).toMatchObject({ ok: true, dialerId: 'n0', dialerKey: stranger.publicKey })
  })

  test('an unsigned hello gets an unsigned welcome, which a node of an earlier version can read', () => {
    const { challenge, hello: unsigned } = hello('n0', undefined)
    const accepted = accept(challenge, unsigned)
    expect(accepted.ok && accepted.welcome.keyProof).toBe(undefined)
  })

  test('a bad cluster secret is refused before any key is looked at', () => {
    const challenge = createChallenge()
    const wrong = answerChallenge({ secret: Buffer.from('another secret'), dialerId: 'n2', acceptorId: 'n1', challenge, identity: n2 })
    expect(accept(challenge, wrong)).toEqual(refusedWith('authentication failed'))
  })
})

describe('the acceptor proves the node key on record for the id the dialer meant to reach', () => {
  /** n2 dials n1; `acceptor` answers in n1's name with its own key. */
  function welcomeFrom(acceptor: NodeIdentity, signedHello = true) {
    const challenge = createChallenge()
    const sent = answerChallenge({ secret, dialerId: 'n2', acceptorId: 'n1', challenge, ...(signedHello && { identity: n2 }) })
    const answered = checkHello({ secret, acceptorId: 'n1', identity: acceptor, challenge, hello: sent, isPeer, keyOf: () => undefined })
    if (!answered.ok) throw new Error(answered.reason)
    return { challenge, hello: sent, welcome: answered.welcome }
  }

  test('an acceptor with another key than the one on record for n1 is refused, naming both keys', () => {
    expect(checkWelcome({ secret, ...welcomeFrom(stranger), keyOf })).toEqual(
      refusedWith(`n1 has node key ${keyFingerprint(stranger.publicKey)}, not ${keyFingerprint(n1.publicKey)} on record`),
    )
  })

  test('an acceptor that proves no key is refused where its key is on record', () => {
    expect(checkWelcome({ secret, ...welcomeFrom(n1, false), keyOf })).toEqual(
      refusedWith(`n1 proved no node key; key ${keyFingerprint(n1.publicKey)} is on record for it`),
    )
  })

  test("n1's welcome key proof taken onto another connection is refused", () => {
    const captured = welcomeFrom(n1)
    const other = welcomeFrom(stranger)
    const moved = { ...other.welcome, keyProof: captured.welcome.keyProof! }
    expect(checkWelcome({ secret, ...other, welcome: moved, keyOf: () => undefined })).toEqual(
      refusedWith(`n1 failed to prove node key ${keyFingerprint(n1.publicKey)}`),
    )
  })
})
