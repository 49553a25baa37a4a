/** The token of an `Authorization: Bearer <token>` header; undefined for another scheme or none. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  return match ? match[1] : undefined
}
