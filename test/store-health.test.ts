import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, unlinkSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { api, startServer, tempDir, users } from './helpers.js'
import { exitOf, spawnServer } from './process.js'

// /readyz must say when the store cannot keep what it is sent, so that a load balancer
// sends traffic elsewhere; a database that went missing must not come back as an empty one.

/** A small tmpfs (a disk that can really fill up), unmounted when the test ends; undefined where mounting is not allowed. */
function smallDisk (t: { teardown: (fn: () => void) => void }, size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'duolog-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
  t.teardown(() => { execFileSync('umount', ['-l', dir]); rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** Writes zeros until the file system is full; returns the filler's path. */
function fill (dir: string): string {
  const path = join(dir, 'filler')
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    closeSync(fd)
  }
  return path
}

t.test('a full disk: /readyz answers 503, writes answer 503 store_unavailable (not 500); space back, all is well', async (t) => {
  const disk = smallDisk(t, '4m')
  if (disk === undefined) { t.pass('skipped: this machine does not allow mounting a tmpfs'); return }
  const dataDir = join(disk, 'data')
  mkdirSync(dataDir)
  const server = await startServer(t, { DUOLOG_DATA_DIR: dataDir })
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  t.equal((await api(server, 'GET', '/readyz')).status, 200)
  const filler = fill(disk)
  // Sends of a fair size until the store's files cannot grow any more.
  let refused
  for (let i = 0; i < 2000 && refused === undefined; i++) {
    const res = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: `${i} ${'x'.repeat(3000)}` } })
    if (res.status !== 201) refused = res
  }
  t.match(refused, { status: 503, body: { error: { code: 'store_unavailable' } } }, 'a send the store cannot keep is refused as retryable')
  const ready = await api(server, 'GET', '/readyz')
  t.match(ready, { status: 503, body: { error: { code: 'not_ready' } } })
  const login = await api(server, 'POST', '/v1/users', { body: { id: 'carol', password: 'a password long enough' } })
  t.not(login.status, 500, `sign-up does not answer 500 (${login.status} ${login.body.error?.code as string})`)

  unlinkSync(filler)
  t.equal((await api(server, 'GET', '/readyz')).status, 200, 'ready again once there is room')
  const after = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'room again', clientMsgId: 'after-full' } })
  t.equal(after.status, 201)
})

t.test('the database files deleted while running: /readyz says so; the next start refuses to come up empty', async (t) => {
  const dataDir = tempDir()
  const server = await startServer(t, { DUOLOG_DATA_DIR: dataDir })
  await users(server, 'alice')
  t.equal((await api(server, 'GET', '/readyz')).status, 200)
  for (const name of readdirSync(dataDir).filter((n) => n.startsWith('duolog.db'))) unlinkSync(join(dataDir, name))
  const ready = await api(server, 'GET', '/readyz')
  t.match(ready, { status: 503, body: { error: { code: 'not_ready' } } }, 'no longer ready')
  await server.app.close()

  const child = spawnServer({ DUOLOG_DATA_DIR: dataDir, DUOLOG_LOG_LEVEL: 'silent', PORT: '0' })
  const { code, stderr } = await exitOf(child)
  t.equal(code, 1, 'the next start is an error')
  t.match(stderr, /no duolog\.db: the database is missing/)
})

t.test('a second duolog on the same data directory is refused at start; the first keeps working', async (t) => {
  const dataDir = tempDir()
  const server = await startServer(t, { DUOLOG_DATA_DIR: dataDir })
  const [alice] = await users(server, 'alice', 'bob')
  const { code, stderr } = await exitOf(spawnServer({ DUOLOG_DATA_DIR: dataDir, DUOLOG_LOG_LEVEL: 'silent', PORT: '0' }))
  t.equal(code, 1, 'the second process exits')
  t.match(stderr, /could not start: .* is in use: another duolog holds duolog\.lock/)
  const sent = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'still here' } })
  t.equal(sent.status, 201, 'the first one still stores')
})

t.test('only the WAL deleted while running: not ready', async (t) => {
  const dataDir = tempDir()
  const server = await startServer(t, { DUOLOG_DATA_DIR: dataDir })
  await users(server, 'alice')
  unlinkSync(join(dataDir, 'duolog.db-wal'))
  t.match(await api(server, 'GET', '/readyz'), { status: 503 })
})

t.test('a file that is not a database at start is an error; a new or empty directory starts afresh', async (t) => {
  const corrupt = tempDir()
  writeFileSync(join(corrupt, 'duolog.db'), 'this is not an SQLite database, but it is where one should be'.repeat(100))
  const { code, stderr } = await exitOf(spawnServer({ DUOLOG_DATA_DIR: corrupt, DUOLOG_LOG_LEVEL: 'silent', PORT: '0' }))
  t.equal(code, 1)
  t.match(stderr, /could not start: file is not a database/)

  const fresh = join(tempDir(), 'not-yet-created')
  const server = await startServer(t, { DUOLOG_DATA_DIR: fresh })
  t.equal((await api(server, 'GET', '/readyz')).status, 200, 'a directory that does not exist yet')
})
