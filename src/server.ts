import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config.js'
import { buildApp } from './app.js'

// Process concerns only: configuration, logger, listen, graceful close.

let config: Config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`duolog: ${err.message}\n`)
  process.exit(1)
}

let app: Awaited<ReturnType<typeof buildApp>>
try {
  app = await buildApp(config)
} catch (err) {
  // e.g. another duolog already holds the SQLite file of this data directory.
  process.stderr.write(`duolog: could not start: ${(err as Error).message}\n`)
  process.exit(1)
}

// The drain window comes out of the grace period: the close itself keeps at least 10 s.
closeWithGrace({ delay: config.drainMs + 10_000 }, async ({ signal, err }) => {
  if (err !== undefined) {
    app.log.error({ err }, 'closing after an error')
  } else if (signal !== 'SIGTERM') {
    // Ctrl-C at a terminal: nobody to drain for.
    app.log.info({ signal }, 'closing')
  } else {
    app.log.info({ signal, drainMs: config.drainMs }, 'draining: /readyz answers 503, then closing')
    app.lifecycle.draining = true
    await new Promise((resolve) => setTimeout(resolve, config.drainMs))
  }
  await app.close()
})

try {
  await app.listen({ port: config.port, host: config.host })
} catch (err) {
  app.log.error({ err }, 'could not listen')
  process.exit(1)
}
