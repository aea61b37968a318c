// REST's wire translation of a procedure's input (server/http/rest.ts): a query string's
// values are all strings, a JSON body has no dates. Each top-level field is converted to
// what its schema wants (its kind), and nothing else is: the schema refuses the rest with
// its own message, as on /trpc.
import { z } from 'zod';

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch']);
/** The schema under optional/default/… wrappers and the input side of a pipe. */
export function unwrapInput(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (WRAPPERS.has(s._zod.def.type)) s = (s._zod.def as unknown as { innerType: z.ZodType }).innerType;
  if (s._zod.def.type === 'pipe') return unwrapInput((s._zod.def as unknown as { in: z.ZodType }).in);
  return s;
}

/**
 * A field's JSON kind: zod's type name of the unwrapped schema ('number', 'boolean', 'date',
 * 'array', …); a union of number literals (`7 | 30 | 90`) is a 'number'.
 */
export function restFieldKind(field: z.ZodType): string {
  const s = unwrapInput(field);
  if (s instanceof z.ZodUnion) {
    const options = s.options as z.ZodType[];
    if (options.every((o) => o instanceof z.ZodLiteral && o.values.size === 1 && typeof o.value === 'number'))
      return 'number';
  }
  return s._zod.def.type;
}

/** The kind of each top-level input field, by procedure path (computed once). */
const kindsByPath = new Map<string, Map<string, string>>();
function fieldKinds(path: string, input: z.ZodType | undefined): Map<string, string> {
  let kinds = kindsByPath.get(path);
  if (kinds) return kinds;
  kinds = new Map();
  const object = input && unwrapInput(input);
  if (object instanceof z.ZodObject)
    for (const [key, field] of Object.entries(object.shape as Record<string, z.ZodType>))
      kinds.set(key, restFieldKind(field));
  kindsByPath.set(path, kinds);
  return kinds;
}

const isoDateTime = z.iso.datetime({ offset: true });
/** A number as JSON writes one (what `?input=` on /trpc takes): `10`, `-2.5`, `1e1`; not `+5`, `05`, ` 5`. */
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The procedure input from a query string (every value a string) or a JSON body: numbers,
 * booleans and ISO dates converted where the schema wants them; anything else is passed as
 * it is, so the schema refuses it with its own message.
 */
export function restInput(
  procedure: { path: string; input: z.ZodType | undefined },
  raw: unknown,
  fromQuery: boolean,
): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const kinds = fieldKinds(procedure.path, procedure.input);
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const kind = kinds.get(key);
    if (kind === 'date' && typeof value === 'string' && isoDateTime.safeParse(value).success)
      input[key] = new Date(value);
    else if (fromQuery && kind === 'number' && typeof value === 'string' && NUMBER.test(value))
      input[key] = Number(value);
    else if (fromQuery && kind === 'boolean' && (value === 'true' || value === 'false'))
      input[key] = value === 'true';
    else if (fromQuery && kind === 'array' && !Array.isArray(value)) input[key] = [value];
    else input[key] = value;
  }
  return input;
}
