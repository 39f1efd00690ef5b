import { z } from 'zod'

/** Milliseconds since the epoch, as every timestamp column holds them. */
export const timestampSchema = z.int().nonnegative()

/** A JSON value: what JSON columns hold once parsed. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number().refine(Number.isFinite, 'must be a finite number'),
    z.boolean(),
    z.null(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
)
export type JsonObject = { [key: string]: JsonValue }
export const jsonObjectSchema: z.ZodType<JsonObject> = z.record(z.string(), jsonValueSchema)

/** Upper bound of one JSON column's serialised size (a guard against runaway payloads). */
export const MAX_JSON_BYTES = 1024 * 1024

/** A JSON column as stored: text that parses as JSON. */
export const jsonTextSchema = z.string().refine((text) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}, 'must be valid JSON text')

/** A JSON object as a caller passes it, bounded in size. */
export const boundedJsonObjectSchema = jsonObjectSchema.refine(
  (value) => Buffer.byteLength(JSON.stringify(value)) <= MAX_JSON_BYTES,
  `must serialise to at most ${MAX_JSON_BYTES} bytes`,
)

/** A single line of human text: trimmed length 1..max, no control characters. */
export function lineSchema(max: number): z.ZodString {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
}

/** Free text (may span lines), bounded. */
export function textSchema(max: number): z.ZodString {
  return z.string().max(max, `must be at most ${max} characters`)
}
