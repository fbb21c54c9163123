import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['**/dist/**', 'coverage/**', '.tap/**', 'data/**'] }),
  {
    rules: {
      // `void promise` marks a promise that handles its own errors (see each call site).
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
