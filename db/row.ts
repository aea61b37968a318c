// Column schemas for the rows of raw SQL (queryRows in db/client.ts). The two drivers agree
// on text, uuid, int, float8, boolean, arrays and jsonb (and leave timestamps as Postgres
// text); they differ on bigint (count(*) without a cast: postgres.js a string, PGlite a
// number) and numeric (a string in both). These read such columns one way. Plain zod
// (z.string(), z.number(), z.boolean(), ...) for the rest.
import { z } from 'zod';

/** bigint or numeric (or int) as a JavaScript number. */
export const num = z.union([z.number(), z.string().transform(Number).pipe(z.number())]);

/** A timestamp(tz) column as a Date (the drivers return Postgres' text form). */
export const date = z.union([
  z.date(),
  z
    .string()
    .transform((s) => new Date(s))
    .pipe(z.date()),
]);

/** A uuid column. */
export const uuid = z.string();

/** `SELECT count(*) AS n ...` (cast or not). */
export const countRow = z.object({ n: num });

/** `... RETURNING id` / `SELECT id ...` with a uuid id. */
export const idRow = z.object({ id: uuid });
