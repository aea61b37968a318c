// therapists.list: the directory of active therapists with their profiles (docs/api.md),
// ordered by name, filtered by specialization or language (GIN indexes on the arrays).
import { and, asc, eq, isNull, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { roles, therapistProfiles, users } from '../../db/schema/index.ts';
import type { TherapistListInput } from '../../shared/inputs/therapy.ts';
import { decodeCursor, toPage } from '../keyset.ts';

/** One SELECT. Shows no email or phone: the directory is for every signed-in user. */
export async function listTherapists(db: Db, input: TherapistListInput) {
  const after = decodeCursor(input.cursor, ['text', 'uuid']);
  // The role as a scalar subquery (one row of roles): the planner then walks
  // users_directory_idx (role_id, name, id) in page order and stops after a page, where a
  // join on roles would scan every user.
  const where: SQL[] = [
    sql`${users.roleId} = (SELECT ${roles.id} FROM ${roles} WHERE ${roles.name} = 'therapist')`,
    eq(users.status, 'active'),
    isNull(users.deletedAt),
  ];
  if (input.specialization)
    where.push(sql`${therapistProfiles.specializations} @> ARRAY[${input.specialization}]::text[]`);
  if (input.language) where.push(sql`${therapistProfiles.languages} @> ARRAY[${input.language}]::text[]`);
  if (after) where.push(sql`(${users.name}, ${users.id}) > (${after[0]}, ${after[1]}::uuid)`);
  const rows = await db
    .select({
      id: users.id,
      name: users.name,
      bio: therapistProfiles.bio,
      specializations: therapistProfiles.specializations,
      languages: therapistProfiles.languages,
      feePaise: therapistProfiles.feePaise,
      acceptingPatients: therapistProfiles.acceptingPatients,
    })
    .from(users)
    .leftJoin(therapistProfiles, eq(therapistProfiles.userId, users.id))
    .where(and(...where))
    .orderBy(asc(users.name), asc(users.id))
    .limit(input.limit + 1);
  // A therapist who has not filled in a profile yet is listed with the profile defaults.
  return toPage(
    rows,
    input.limit,
    (r) => [r.name, r.id],
    (r) => ({
      ...r,
      specializations: r.specializations ?? [],
      languages: r.languages ?? [],
      feePaise: r.feePaise ?? 0,
      acceptingPatients: r.acceptingPatients ?? true,
    }),
  );
}
