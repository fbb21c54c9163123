import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'
import { Errors } from '../errors.js'

// The demo chat page (demo/): the page at /, its script (bundled by `npm run build`) at /demo/app.js.
const DEMO = new URL('../../demo/', import.meta.url)

const demoRoutes: FastifyPluginAsync = async (fastify) => {
  if (!fastify.config.demo) return
  fastify.get('/', { schema: { hide: true } }, async (_request, reply) => {
    return await reply.type('text/html; charset=utf-8').send(await readFile(new URL('index.html', DEMO)))
  })
  fastify.get('/demo/app.js', { schema: { hide: true } }, async (request, reply) => {
    let bundle: Buffer
    try {
      bundle = await readFile(new URL('dist/app.js', DEMO))
    } catch {
      throw new Errors.RouteNotFound(request.method, '/demo/app.js (run `npm run build` to bundle the demo)')
    }
    return await reply.type('text/javascript; charset=utf-8').send(bundle)
  })
}

export default demoRoutes
