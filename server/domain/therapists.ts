// therapists.list: the directory of active therapists with their profiles (docs/api.md),
// ordered by name, filtered by specialization or language (GIN indexes on the arrays).
import { and, asc, eq, isNull, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { prepared } from '../../db/prepared.ts';
import { roles, therapistProfiles, users } from '../../db/schema/index.ts';
import type { TherapistListInput } from '../../shared/inputs/therapy.ts';
import { decodeCursor, toPage } from '../keyset.ts';

/**
 * One SELECT, built once per shape (which filters, a cursor or not) and prepared: the same
 * statement text as building it at each call, without the building.
 */
const directoryPage = (specialization: boolean, language: boolean, cursor: boolean) => (db: Db) => {
  // The role as a scalar subquery (one row of roles): the planner then walks
  // users_directory_idx (role_id, name, id) in page order and stops after a page, where a
  // join on roles would scan every user.
  const where: SQL[] = [
    sql`${users.roleId} = (SELECT ${roles.id} FROM ${roles} WHERE ${roles.name} = 'therapist')`,
    eq(users.status, 'active'),
    isNull(users.deletedAt),
  ];
  if (specialization)
    where.push(
      sql`${therapistProfiles.specializations} @> ARRAY[${sql.placeholder('specialization')}]::text[]`,
    );
  if (language)
    where.push(sql`${therapistProfiles.languages} @> ARRAY[${sql.placeholder('language')}]::text[]`);
  if (cursor)
    where.push(
      sql`(${users.name}, ${users.id}) > (${sql.placeholder('afterName')}, ${sql.placeholder('afterId')}::uuid)`,
    );
  return db
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
    .limit(sql.placeholder('limit'))
    .prepare('therapists_list');
};

/** Shows no email or phone: the directory is for every signed-in user. */
export async function listTherapists(db: Db, input: TherapistListInput) {
  const after = decodeCursor(input.cursor, ['text', 'uuid']);
  const shape = [Boolean(input.specialization), Boolean(input.language), after !== undefined] as const;
  const rows = await prepared(db, `therapists_list:${shape.join(':')}`, directoryPage(...shape)).execute({
    specialization: input.specialization,
    language: input.language,
    afterName: after?.[0],
    afterId: after?.[1],
    limit: input.limit + 1,
  });
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
