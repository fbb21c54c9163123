// Bundles the demo page's script (demo/app.ts, on the client SDK) into demo/dist/app.js with esbuild.
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

export const DEMO_BUNDLE = fileURLToPath(new URL('../demo/dist/app.js', import.meta.url))

export async function buildDemo (): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../demo/app.ts', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    outfile: DEMO_BUNDLE,
    logLevel: 'warning'
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDemo()
  process.stdout.write(`wrote ${DEMO_BUNDLE}\n`)
}
