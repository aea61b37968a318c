// `npx tsx examples/run.ts <url>`: runs the walkthrough of client.ts against a server. Kept
// apart from client.ts, which uses no Node API, so that a browser or React Native app
// compiles client.ts as it is (test/client-package.test.ts does, against the packed types).
import { createInterface } from 'node:readline/promises';
import { main } from './client.ts';

/** Registration: the user pastes the link emailed to them (…/verify-email#token=…). */
async function confirmationLink(email: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const link = await rl.question(`Paste the link emailed to ${email}: `);
    return new URLSearchParams(new URL(link.trim()).hash.slice(1)).get('token') ?? '';
  } finally {
    rl.close();
  }
}

main(process.argv[2] ?? 'http://127.0.0.1:3000', { confirmationLink }).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
