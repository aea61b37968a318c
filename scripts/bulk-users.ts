// The ids of bulk-seeded users, for the seed and the benchmarks that read its data.
// md5 made into a valid version-4 UUID (version nibble 4, variant 8): tokens' sub must be an RFC 9562 UUID.
export const bulkUserIdSql = (g: string) =>
  `overlay(overlay(md5('bulk-user-' || ${g}) placing '4' from 13) placing '8' from 17)::uuid`;
