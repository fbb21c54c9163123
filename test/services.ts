import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * External services for the suites that need them. Unset: the suite is skipped with a
 * one-line reason naming the variable. CI sets DUOLOG_REQUIRE_SERVICES=1, which turns a
 * missing variable into a failure, so a CI run never passes by skipping them.
 */
function required (name: string, example: string): string | undefined {
  const value = process.env[name]
  if (value !== undefined && value !== '') return value
  if (process.env.DUOLOG_REQUIRE_SERVICES === '1') throw new Error(`${name} is not set, and DUOLOG_REQUIRE_SERVICES=1`)
  process.stdout.write(`# skipping: set ${name}=${example} to run this suite\n`)
  return undefined
}

export const redisUrl = (): string | undefined => required('DUOLOG_TEST_REDIS_URL', 'redis://127.0.0.1:6379')

export const postgresUrl = (): string | undefined => required('DUOLOG_TEST_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test')

/** A fresh PostgreSQL schema name, dropped with everything in it when the test ends. */
export function schemaForTest (t: { teardown: (fn: () => unknown) => void }, url: string): string {
  const schema = `duolog_test_${randomBytes(6).toString('hex')}`
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  })
  return schema
}
