// Says once which real-service tests run and which are skipped.
export default function setup() {
  const pg = process.env.DATABASE_URL
    ? `real PostgreSQL (${redact(process.env.DATABASE_URL)})`
    : 'PGlite only: real-PostgreSQL tests skipped (set DATABASE_URL)';
  const redis = process.env.REDIS_URL
    ? `real Redis (${process.env.REDIS_URL})`
    : 'no Redis: real-Redis tests skipped (set REDIS_URL)';
  console.log(`[tests] database: ${pg}\n[tests] redis: ${redis}`);
}
function redact(url: string) {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
