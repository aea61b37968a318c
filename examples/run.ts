// `npx tsx examples/run.ts <url>`: runs the walkthrough of client.ts against a server. Kept
// apart from client.ts, which uses no Node API, so that a browser or React Native app
// compiles client.ts as it is (test/client-package.test.ts does, against the packed types).
import { main } from './client.ts';

main(process.argv[2] ?? 'http://127.0.0.1:3000').catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
