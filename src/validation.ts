import { Ajv, type Options } from 'ajv'
import addFormatsImport from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv

const common: Options = { removeAdditional: true, useDefaults: true, allErrors: false }

// Query strings and path parameters are text: "?limit=10" must become a number.
const coercing = addFormats(new Ajv({ ...common, coerceTypes: 'array' }))
// A JSON body says what it means: `"content": 7` is an error, not the string "7", and a
// field the route does not know (a typo: "contnet") is refused, not silently dropped.
const strict = addFormats(new Ajv({ ...common, removeAdditional: false, coerceTypes: false }))

export const validatorCompiler: FastifySchemaCompiler<any> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema)
