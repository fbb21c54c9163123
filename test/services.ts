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
