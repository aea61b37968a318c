// users.*: the caller's own profile (docs/api.md). A therapist's profile also holds the
// directory fields (specializations, languages, fee, bio, accepting patients); only callers
// with `sessions.manage` (therapists) may set those.
import { eq, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { prepared } from '../../db/prepared.ts';
import { roles, therapistProfiles, users } from '../../db/schema/index.ts';
import type { UpdateProfileInput } from '../../shared/inputs/users.ts';
import { EXPIRED_TOKEN_MESSAGE, unauthorized } from './errors.ts';

/** The profile of one user, with the therapist fields: one SELECT, prepared (a hot read). */
const profileRow = (db: Db) =>
  db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      phone: users.phone,
      language: users.language,
      role: roles.name,
      status: users.status,
      createdAt: users.createdAt,
      // Drizzle reads a left-joined object as null when its FIRST field is null: keep a
      // NOT NULL column first.
      therapist: {
        specializations: therapistProfiles.specializations,
        languages: therapistProfiles.languages,
        feePaise: therapistProfiles.feePaise,
        acceptingPatients: therapistProfiles.acceptingPatients,
        bio: therapistProfiles.bio,
      },
    })
    .from(users)
    .innerJoin(roles, eq(roles.id, users.roleId))
    .leftJoin(therapistProfiles, eq(therapistProfiles.userId, users.id))
    .where(sql`${users.id} = ${sql.placeholder('userId')} AND ${users.deletedAt} IS NULL`)
    .prepare('users_profile');

/** The profile of one user, with the therapist fields when there are any. One query. */
export async function getProfile(db: Db, userId: string) {
  const [row] = await prepared(db, 'users_profile', profileRow).execute({ userId });
  // Only ever the caller's own row: its absence means the token outlived its user.
  if (!row) throw unauthorized(EXPIRED_TOKEN_MESSAGE);
  return row;
}

/**
 * Updates the caller's profile: one statement (the users row, and the therapist profile
 * upserted in the same statement when therapist fields are given), then the profile is
 * read back: two queries.
 */
export async function updateProfile(db: Db, userId: string, input: UpdateProfileInput) {
  const set: SQL[] = [sql`updated_at = now()`];
  if (input.name !== undefined) set.push(sql`name = ${input.name}`);
  if (input.phone !== undefined) set.push(sql`phone = ${input.phone}`);
  if (input.language !== undefined) set.push(sql`language = ${input.language}`);
  const updateUser = sql`UPDATE ${users} SET ${sql.join(set, sql`, `)}
    WHERE id = ${userId} AND deleted_at IS NULL RETURNING id`;

  const profile = therapistFields(input);
  if (profile.length === 0) {
    await db.execute(updateUser);
  } else {
    // Absent fields take the column defaults on insert and keep their value on update.
    const value = (name: string, fallback: SQL) => profile.find((p) => p.name === name)?.value ?? fallback;
    await db.execute(sql`WITH u AS (${updateUser})
      INSERT INTO ${therapistProfiles} (user_id, specializations, languages, fee_paise, bio, accepting_patients)
      SELECT u.id, ${value('specializations', sql`'{}'::text[]`)}, ${value('languages', sql`'{}'::text[]`)},
             ${value('feePaise', sql`0`)}, ${value('bio', sql`NULL`)}, ${value('acceptingPatients', sql`true`)}
      FROM u
      ON CONFLICT (user_id) DO UPDATE SET
        ${sql.join(
          profile.map((p) => sql`${sql.identifier(p.column)} = excluded.${sql.identifier(p.column)}`),
          sql`, `,
        )},
        updated_at = now()`);
  }
  return getProfile(db, userId);
}

/** The therapist fields present in the input, as column and SQL value. */
function therapistFields(input: UpdateProfileInput): { name: string; column: string; value: SQL }[] {
  const fields: { name: string; column: string; value: SQL }[] = [];
  if (input.specializations !== undefined)
    fields.push({
      name: 'specializations',
      column: 'specializations',
      value: textArray(input.specializations),
    });
  if (input.languages !== undefined)
    fields.push({ name: 'languages', column: 'languages', value: textArray(input.languages) });
  if (input.feePaise !== undefined)
    fields.push({ name: 'feePaise', column: 'fee_paise', value: sql`${input.feePaise}::int` });
  if (input.bio !== undefined) fields.push({ name: 'bio', column: 'bio', value: sql`${input.bio}::text` });
  if (input.acceptingPatients !== undefined)
    fields.push({
      name: 'acceptingPatients',
      column: 'accepting_patients',
      value: sql`${input.acceptingPatients}::boolean`,
    });
  return fields;
}

/** A text[] parameter that binds the same way on postgres.js and PGlite. */
export function textArray(values: string[]): SQL {
  return sql`ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))::text[]`;
}
