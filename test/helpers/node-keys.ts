import { generateNodeIdentity, type NodeIdentity } from '../../src/peer/node-identity.js'

/** The node keys of a test's peer networks, as the metadata would hold them: one key pair per id, made at first use. */
export class TestKeyring {
  private readonly identities = new Map<string, NodeIdentity>()

  identityOf(id: string): NodeIdentity {
    let identity = this.identities.get(id)
    if (!identity) {
      identity = generateNodeIdentity()
      this.identities.set(id, identity)
    }
    return identity
  }

  /** The key on record for `id`: only ids whose identity was asked for have one. */
  readonly keyOf = (id: string): string | undefined => this.identities.get(id)?.publicKey
}
