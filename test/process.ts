import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Env } from '../src/config.js'

export const SERVER_ENTRY = new URL('../src/server.ts', import.meta.url).pathname

/** Runs src/server.ts in a child process (as `npm start` does, from source). */
export function spawnServer (env: Env): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', SERVER_ENTRY], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

/** Waits for the "Server listening" log line and returns the base URL. */
export async function listening (child: ChildProcess): Promise<string> {
  let out = ''
  return await new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    child.once('exit', (code) => { reject(new Error(`server exited with ${code}: ${out}`)) })
  })
}

/** The exit of a child; start waiting before the child can exit, or right after spawning. */
export async function exitOf (child: ChildProcess): Promise<{ code: number | null, stderr: string }> {
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, stderr }
  const [code] = await once(child, 'exit') as [number | null]
  return { code, stderr }
}
