import * as decoding from 'lib0/decoding'

/**
 * Runs `read` over all of `bytes`: trailing bytes, truncation and any decoding error become one error of the
 * codec's own class, made by `malformed`, so that callers catch exactly one kind of error.
 */
export function decodeWhole<T>(
  bytes: Uint8Array,
  read: (decoder: decoding.Decoder) => T,
  malformed: new (message: string) => Error,
  what: string,
): T {
  try {
    const decoder = decoding.createDecoder(bytes)
    const value = read(decoder)
    if (decoding.hasContent(decoder)) throw new malformed(`trailing bytes after ${what}`)
    return value
  } catch (err) {
    if (err instanceof malformed) throw err
    throw new malformed(`malformed ${what}: ${(err as Error).message}`)
  }
}
