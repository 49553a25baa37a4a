import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'

/**
 * A node's own Ed25519 key pair: what lets it prove, in the peer handshake, that it is the member whose id it
 * claims. The cluster secret only proves that a node belongs to the cluster.
 *
 * A public key travels as text (in the metadata, the REST API and logs) as the base64url of its 32 raw
 * bytes, which is also its JWK `x`, and on the wire as those 32 bytes.
 */
export interface NodeIdentity {
  readonly privateKey: KeyObject
  /** base64url, 43 characters. */
  readonly publicKey: string
}

export function generateNodeIdentity(): NodeIdentity {
  return identityOf(generateKeyPairSync('ed25519').privateKey)
}

/** The PKCS#8 PEM a node keeps its private key in. */
export function encodeNodeIdentity(identity: NodeIdentity): string {
  return identity.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/** Reads a PKCS#8 PEM private key; throws with a short reason for anything but an Ed25519 key. */
export function decodeNodeIdentity(pem: string): NodeIdentity {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' })
  } catch (err) {
    throw new Error(`not a PEM private key: ${(err as Error).message}`, { cause: err })
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`an ${privateKey.asymmetricKeyType ?? 'unknown'} key`)
  return identityOf(privateKey)
}

function identityOf(privateKey: KeyObject): NodeIdentity {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
  return { privateKey, publicKey: jwk.x! }
}

export function signAs(identity: NodeIdentity, message: Uint8Array): Uint8Array {
  return sign(null, message, identity.privateKey)
}

/** Whether `signature` is `publicKey`'s over `message`; false, not a throw, for a key that is no Ed25519 point. */
export function signedBy(publicKey: string, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' })
    return verify(null, message, key, signature)
  } catch {
    return false
  }
}

export const publicKeyText = (raw: Uint8Array): string => Buffer.from(raw).toString('base64url')
export const publicKeyRaw = (text: string): Uint8Array => Buffer.from(text, 'base64url')

/** A short name for a public key in logs and refusals: the first 8 bytes of its SHA-256, in hex. */
export function keyFingerprint(publicKey: string): string {
  return createHash('sha256').update(publicKeyRaw(publicKey)).digest('hex').slice(0, 16)
}
