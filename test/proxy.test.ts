import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { api, eventually, startServer, tempDir } from './helpers.js'
import { freePort, nginxPath } from './services.js'

// The shipped load balancer (deploy/nginx.conf) in front of duolog with the shipped
// DUOLOG_TRUST_PROXY (docker-compose.yml): a client that writes its own X-Forwarded-For,
// a new one on every request, must not get past the per-address limits.

const nginx = nginxPath()
if (nginx !== undefined) {
  t.test('behind the shipped nginx, a rotating X-Forwarded-For does not bypass the login limit', async (t) => {
    const compose = readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8')
    const trustProxy = /DUOLOG_TRUST_PROXY: "([^"]*)"/.exec(compose)?.[1]
    t.ok(trustProxy !== undefined, `docker-compose.yml sets DUOLOG_TRUST_PROXY (${trustProxy ?? 'missing'})`)
    const server = await startServer(t, { DUOLOG_AUTH_RATE_LIMIT: '3', DUOLOG_TRUST_PROXY: trustProxy as string })
    const port = await freePort()
    const dir = tempDir()
    mkdirSync(join(dir, 'logs'))
    // The shipped configuration, pointed at this test's server and port, its files in a scratch folder.
    const conf = readFileSync(new URL('../deploy/nginx.conf', import.meta.url), 'utf8')
      .replace(/upstream duolog \{[^}]*\}/, `upstream duolog { server ${new URL(server.url).host}; }`)
      .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      .replace('http {', `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;`)
    writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log;\n${conf}`)
    const child = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'], { stdio: 'ignore' })
    t.teardown(() => { child.kill('SIGKILL') })
    const lb = `http://127.0.0.1:${port}`
    await eventually(async () => { try { return (await fetch(`${lb}/healthz`)).ok } catch { return false } })

    const statuses: number[] = []
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${lb}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${i + 1}` },
        body: JSON.stringify({ id: `user${i}`, password: 'a guess' })
      })
      statuses.push(res.status)
    }
    t.same(statuses, [401, 401, 401, 429, 429, 429], 'the limit counts the real client address, not what it claims')
    t.match(await api(server, 'GET', '/healthz'), { status: 200 })
  })
}
