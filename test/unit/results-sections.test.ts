import { expect, test } from 'vitest'
import { keepOtherSections, replaceSection, sectionsOf } from '../../benchmarks/report/report.js'

const previous = '# results\n\n## Trace replay\nold replay\n\n## Chaos (by hand)\nseeds 1–10\n\n## Fan-out\nold fan-out\n'

test('a full run keeps the sections it does not write, after its own', () => {
  const next = '# results\n\n## Trace replay\nnew replay\n\n## Fan-out\nnew fan-out\n'
  expect(keepOtherSections(next, previous)).toBe('# results\n\n## Trace replay\nnew replay\n\n## Fan-out\nnew fan-out\n\n## Chaos (by hand)\nseeds 1–10\n')
})

test('a run of one benchmark replaces its own section only', () => {
  expect(replaceSection(previous, '## Fan-out\nnew fan-out\n')).toBe('# results\n\n## Trace replay\nold replay\n\n## Chaos (by hand)\nseeds 1–10\n\n## Fan-out\nnew fan-out\n')
})

test('the sections of a file run from each heading to the next; what comes before the first is none of them', () => {
  expect(sectionsOf('# title\nintro\n## A\na\n## B\nb\n')).toEqual(['## A\na', '## B\nb\n'])
})

test('a section the file lacks goes before the heading it is told, or at the end', () => {
  const file = '# t\n\n## A\na\n\n## Targets\nt\n'
  expect(replaceSection(file, '## B\nb\n', '## Targets')).toBe('# t\n\n## A\na\n\n## B\nb\n\n## Targets\nt\n')
  expect(replaceSection(file, '## B\nb\n', '## Nowhere')).toBe('# t\n\n## A\na\n\n## Targets\nt\n\n## B\nb\n')
})
