// Writes README's configuration table from src/settings.ts (test/config.test.ts fails when it is stale).
import { readFileSync, writeFileSync } from 'node:fs'
import { settingsTable } from '../src/settings.js'

export const START = '<!-- settings table: generated from src/settings.ts by `npm run settings-table` -->'
export const END = '<!-- end of settings table -->'

const path = new URL('../README.md', import.meta.url)
const readme = readFileSync(path, 'utf8')
const from = readme.indexOf(START)
const to = readme.indexOf(END)
if (from < 0 || to < from) throw new Error(`README.md has no "${START}" ... "${END}" section`)
writeFileSync(path, readme.slice(0, from + START.length) + '\n' + settingsTable() + '\n' + readme.slice(to))
