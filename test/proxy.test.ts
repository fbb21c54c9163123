import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client, api, eventually, startServer, tempDir, users } from './helpers.js'
import { freePort, nginxPath } from './services.js'

// The shipped load balancer (deploy/nginx.conf) in front of duolog with the shipped
// DUOLOG_TRUST_PROXY (docker-compose.yml): a client that writes its own X-Forwarded-For,
// a new one on every request, must not get past the per-address limits.

const nginx = nginxPath()

/**
 * The shipped configuration in a scratch folder, run by Debian's nginx: the compose service
 * names duolog-1 and duolog-2 become this test's servers. Answers the load balancer's URL.
 */
async function shippedNginx (t: { teardown: (fn: () => unknown) => void }, nginx: string, instances: { one: string, two: string }, upstream?: string): Promise<string> {
  const port = await freePort()
  const dir = tempDir()
  mkdirSync(join(dir, 'logs'))
  let conf = readFileSync(new URL('../deploy/nginx.conf', import.meta.url), 'utf8')
    .replaceAll('duolog-1:3000', instances.one)
    .replaceAll('duolog-2:3000', instances.two)
    .replace('listen 8080;', `listen 127.0.0.1:${port};`)
    .replace('http {', `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;`)
  if (upstream !== undefined) conf = conf.replace(/upstream duolog \{[^}]*\}/, `upstream duolog { server ${upstream}; }`)
  writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log;\n${conf}`)
  const child = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'], { stdio: 'ignore' })
  t.teardown(() => { child.kill('SIGKILL') })
  const lb = `http://127.0.0.1:${port}`
  await eventually(async () => { try { return (await fetch(`${lb}/healthz`)).ok } catch { return false } })
  return lb
}

if (nginx !== undefined) {
  t.test('behind the shipped nginx, a rotating X-Forwarded-For does not bypass the login limit', async (t) => {
    const compose = readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8')
    const trustProxy = /DUOLOG_TRUST_PROXY: "([^"]*)"/.exec(compose)?.[1]
    t.ok(trustProxy !== undefined, `docker-compose.yml sets DUOLOG_TRUST_PROXY (${trustProxy ?? 'missing'})`)
    const server = await startServer(t, { DUOLOG_AUTH_RATE_LIMIT: '3', DUOLOG_TRUST_PROXY: trustProxy as string })
    const host = new URL(server.url).host
    // One instance behind it, so that every try counts against the same limit.
    const lb = await shippedNginx(t, nginx, { one: host, two: host }, host)

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

  t.test('behind the shipped nginx, each instance\'s metrics are reachable at /metrics/duolog-N, and /metrics alone is not', async (t) => {
    const token = 'compose-metrics-token-0123'
    const one = await startServer(t, { DUOLOG_METRICS_TOKEN: token })
    const two = await startServer(t, { DUOLOG_METRICS_TOKEN: token })
    const lb = await shippedNginx(t, nginx, { one: new URL(one.url).host, two: new URL(two.url).host })
    const [alice] = await users(one, 'alice')
    const socket = await Client.connect(one, alice)
    const scrape = async (path: string, auth = token): Promise<{ status: number, text: string }> => {
      const res = await fetch(lb + path, { headers: { authorization: `Bearer ${auth}` } })
      return { status: res.status, text: await res.text() }
    }
    const first = await scrape('/metrics/duolog-1')
    t.equal(first.status, 200)
    t.match(first.text, /^duolog_connections 1$/m, 'instance 1, which holds the socket')
    t.match((await scrape('/metrics/duolog-2')).text, /^duolog_connections 0$/m, 'instance 2')
    t.equal((await scrape('/metrics/duolog-1', 'wrong-token-0123456789')).status, 401, 'the token is still checked')
    t.equal((await scrape('/metrics')).status, 404, 'not whichever instance the round robin picks')
    socket.close()
  })
}
