import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url))

/** The OpenAPI document as generated from the route schemas, formatted as committed. */
export async function openapiDocument (): Promise<string> {
  const config = loadConfig({ DUOLOG_DATA_DIR: ':memory:', DUOLOG_JWT_SECRET: 'x'.repeat(32), DUOLOG_LOG_LEVEL: 'silent', DUOLOG_METRICS_TOKEN: 'x'.repeat(16) })
  const app = await buildApp(config, false)
  await app.ready()
  const text = JSON.stringify(app.swagger(), null, 2) + '\n'
  await app.close()
  return text
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, await openapiDocument())
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`)
}
