import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/**
 * Cursors of `GET /v1/docs`, sealed (AES-256-GCM) under a key made from the cluster secret: a page may end
 * on a document the caller may not see, and the cursor must not tell its name. Every node of the cluster
 * opens every other's cursors; nobody else can read or forge one.
 */
export function listCursors(clusterSecret: string) {
  const key = createHash('sha256').update('syncmesh list cursor\0').update(clusterSecret).digest()
  return {
    seal(name: string): string {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const sealed = Buffer.concat([cipher.update(name, 'utf8'), cipher.final()])
      return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url')
    },
    /** The name a cursor resumes after; undefined for one this cluster did not make. */
    open(cursor: string): string | undefined {
      const bytes = Buffer.from(cursor, 'base64url')
      if (bytes.byteLength < 12 + 16) return undefined
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12))
        decipher.setAuthTag(bytes.subarray(bytes.byteLength - 16))
        return Buffer.concat([decipher.update(bytes.subarray(12, bytes.byteLength - 16)), decipher.final()]).toString('utf8')
      } catch {
        return undefined
      }
    },
  }
}

export type ListCursors = ReturnType<typeof listCursors>
