import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The JWT secret of a deployment that configured none (refused in production by config):
 * generated once and kept in the data directory, so tokens survive a restart.
 */
export function loadOrCreateSecret (dataDir: string): { secret: string, file: string, created: boolean } {
  const file = join(dataDir, 'jwt-secret')
  try {
    const secret = readFileSync(file, 'utf8').trim()
    if (secret.length >= 32) return { secret, file, created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, secret + '\n', { mode: 0o600 })
  return { secret, file, created: true }
}
