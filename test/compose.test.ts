import t from 'tap'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dockerComposePath } from './services.js'

// docker-compose.yml cannot be run here (no Docker engine), but Debian's docker-compose 1.29
// reads and resolves it as it would before starting anything: what it says must be the setup
// README describes. (Compose v2 reads the same file; its `version` key is ignored there.)

const compose = dockerComposePath()
if (compose !== undefined) {
  t.test('docker-compose 1.29 accepts docker-compose.yml: one image, health-gated start, metrics passed through', async (t) => {
    const root = fileURLToPath(new URL('..', import.meta.url))
    const resolved = execFileSync(compose, ['-f', 'docker-compose.yml', 'config'], {
      cwd: root,
      env: { PATH: process.env.PATH, DUOLOG_JWT_SECRET: 'x'.repeat(32), DUOLOG_METRICS_TOKEN: 'm'.repeat(16) },
      encoding: 'utf8'
    })
    // `config` prints YAML; these checks read the few lines they need.
    const service = (name: string): string => {
      const start = resolved.indexOf(`\n  ${name}:\n`)
      t.ok(start >= 0, `service ${name}`)
      const rest = resolved.slice(start + 1)
      const end = rest.slice(1).search(/\n {2}[a-z0-9-]+:\n|\n[a-z]/)
      return end < 0 ? rest : rest.slice(0, end + 1)
    }
    const one = service('duolog-1')
    const two = service('duolog-2')
    t.match(one, /image: duolog:local/)
    t.match(two, /image: duolog:local/, 'both instances run the one image')
    t.match(one, /\/readyz/, 'an instance is healthy when it is ready (store writes, not draining)')
    t.match(one, /DUOLOG_METRICS_TOKEN: m{16}/, 'the metrics token reaches the instances')
    t.match(one, /DUOLOG_TRUST_PROXY: '1'/)
    const lb = service('lb')
    t.match(lb, /duolog-1:\n\s+condition: service_healthy/, 'the load balancer waits for a healthy duolog-1')
    t.match(lb, /duolog-2:\n\s+condition: service_healthy/, 'and duolog-2')
    t.match(lb, /deploy\/nginx\.conf/)
  })

  t.test('docker-compose refuses to start without DUOLOG_JWT_SECRET', async (t) => {
    const root = fileURLToPath(new URL('..', import.meta.url))
    let message = ''
    try {
      execFileSync(compose, ['-f', 'docker-compose.yml', 'config'], { cwd: root, env: { PATH: process.env.PATH }, encoding: 'utf8', stdio: 'pipe' })
    } catch (err) {
      message = String((err as { stderr?: string }).stderr)
    }
    t.match(message, /set DUOLOG_JWT_SECRET/)
  })
}
