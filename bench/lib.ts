// Helpers the benchmarks share: a server's address from its log, a JSON POST, CPU pinning.
import { execFileSync, type ChildProcess } from 'node:child_process'

export function hasTaskset (): boolean {
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return true } catch { return false }
}

/** Resolves with the server's base URL once it logs that it listens; its log is dropped after. */
export async function listening (child: ChildProcess): Promise<string> {
  let out = ''
  return await new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (match?.[1] === undefined) return
      // From here on the server's log is read and dropped.
      child.stdout?.off('data', onData)
      child.stdout?.resume()
      resolve(match[1])
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => { reject(new Error(`server exited with ${code}`)) })
  })
}

export async function post (url: string, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json()
}
