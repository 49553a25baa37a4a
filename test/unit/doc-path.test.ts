import fc from 'fast-check'
import { Hono } from 'hono'
import { describe, expect, test } from 'vitest'
import { withEncodedDocName } from '../../src/http/doc-path.js'

describe('document names with plain slashes in REST paths', () => {
  test('examples', () => {
    expect(withEncodedDocName('/v1/docs/team/notes')).toBe('/v1/docs/team%2Fnotes')
    expect(withEncodedDocName('/v1/docs/team/notes/update?sv=AA')).toBe('/v1/docs/team%2Fnotes/update?sv=AA')
    expect(withEncodedDocName('/v1/docs/team%2Fnotes/update')).toBe('/v1/docs/team%2Fnotes/update')
    expect(withEncodedDocName('/v1/docs/notes/update')).toBe('/v1/docs/notes/update')
    expect(withEncodedDocName('/v1/docs/update')).toBe('/v1/docs/update')
    expect(withEncodedDocName('/v1/docs?prefix=a/b')).toBe('/v1/docs?prefix=a/b')
    expect(withEncodedDocName('/v1/docs/')).toBe('/v1/docs/')
    expect(withEncodedDocName('/v1/cluster/members/a')).toBe('/v1/cluster/members/a')
    const id = 'v_0123456789abcdef0123'
    expect(withEncodedDocName('/v1/docs/team/notes/versions')).toBe('/v1/docs/team%2Fnotes/versions')
    expect(withEncodedDocName(`/v1/docs/team/notes/versions/${id}`)).toBe(`/v1/docs/team%2Fnotes/versions/${id}`)
    expect(withEncodedDocName(`/v1/docs/team/notes/versions/${id}/update`)).toBe(`/v1/docs/team%2Fnotes/versions/${id}/update`)
    expect(withEncodedDocName(`/v1/docs/team/notes/versions/${id}/restore`)).toBe(`/v1/docs/team%2Fnotes/versions/${id}/restore`)
    expect(withEncodedDocName(`/v1/docs/a/b/versions/${id}/diff/current`)).toBe(`/v1/docs/a%2Fb/versions/${id}/diff/current`)
    expect(withEncodedDocName(`/v1/docs/a/b/versions/${id}/diff/${id}?types=t:text`)).toBe(`/v1/docs/a%2Fb/versions/${id}/diff/${id}?types=t:text`)
    // Any segment after /versions/ is the version's: a bad id is refused as such.
    expect(withEncodedDocName('/v1/docs/a/b/versions/nope')).toBe('/v1/docs/a%2Fb/versions/nope')
  })

  test('any name, its segments percent-encoded and joined by plain slashes, reaches the routes whole', async () => {
    const app = new Hono()
      .get('/v1/docs/:name/update', (c) => c.json({ route: 'update', name: c.req.param('name') }))
      .get('/v1/docs/:name', (c) => c.json({ route: 'json', name: c.req.param('name') }))
    const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => !s.includes('/'))
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.boolean(), async (segments, update) => {
        const name = segments.join('/')
        fc.pre(!(segments.length === 1 && segments[0] === 'update') && segments.at(-1) !== 'update' && !segments.slice(1).some((s) => s === 'versions'))
        const target = withEncodedDocName(`/v1/docs/${segments.map(encodeURIComponent).join('/')}${update ? '/update' : ''}`)
        const answer = await (await app.request(`http://node${target}`)).json()
        expect(answer).toEqual({ route: update ? 'update' : 'json', name })
      }),
    )
  })
})
