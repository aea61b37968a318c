// The declaration bundle of @manas360/api-client: packages/client/index.ts and every type it
// reaches (the routers' procedure types included) in one dist/index.d.ts. Only the peer
// packages stay imports; nothing of the server's other dependencies may remain, so a client
// needs no more than @trpc/client, @trpc/server, superjson and zod.
import { fileURLToPath } from 'node:url';
import { dts } from 'rollup-plugin-dts';

const contextStub = fileURLToPath(new URL('./context.d.ts', import.meta.url));

/** server/trpc/context.ts → context.d.ts (see there). */
const eraseContext = {
  name: 'erase-context',
  resolveId(source) {
    return /\/trpc\/context\.ts$/.test(source) ? contextStub : null;
  },
};

/**
 * The packages a client installs beside this one (peerDependencies, and zod), with their
 * subpaths (tRPC's public types reference its internal ones). The auth.mfa passkey
 * ceremonies' options are described by their contracts' schemas, so no server dependency's
 * types remain.
 */
const allowed = ['@trpc/server', '@trpc/client', 'superjson', 'zod'];
const isAllowed = (id) => allowed.some((p) => id === p || id.startsWith(`${p}/`));

/** Fails the build when a declaration still imports anything else (a server dependency's types). */
const onlyAllowedImports = {
  name: 'only-allowed-imports',
  generateBundle(_options, bundle) {
    for (const chunk of Object.values(bundle)) {
      const stray = chunk.type === 'chunk' ? chunk.imports.filter((id) => !isAllowed(id)) : [];
      if (stray.length > 0)
        this.error(
          `the client declarations import ${stray.join(', ')}: only ${allowed.join(', ')} may remain`,
        );
    }
  },
};

export default {
  input: 'packages/client/index.ts',
  output: { file: 'packages/client/dist/index.d.ts', format: 'es' },
  plugins: [
    eraseContext,
    dts({
      tsconfig: 'tsconfig.json',
      compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true },
    }),
    onlyAllowedImports,
  ],
};
