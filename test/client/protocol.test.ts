import t from 'tap'
import { readFileSync } from 'node:fs'
import { CLIENT_TYPES_FILE, clientTypes } from '../../scripts/client-types.js'

t.test('the SDK\'s types are the ones the server\'s schemas give (run `npm run client-types` after changing a schema)', async (t) => {
  t.equal(readFileSync(CLIENT_TYPES_FILE, 'utf8'), clientTypes())
})

t.test('the SDK has no runtime dependencies', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../client/package.json', import.meta.url), 'utf8'))
  t.same(pkg.dependencies ?? {}, {})
  t.equal(pkg.name, 'duolog-client')
})
