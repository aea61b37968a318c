// The client types package (packages/client, @manas360/api-client) as an app outside this
// repository gets it: built, packed with `npm pack`, installed from the tarball into a fresh
// project that has nothing of the server, and compiled under two stock configurations: the
// one `tsc --init` writes, and Vite's React + TypeScript app configuration. The client is
// examples/client.ts, importing the package instead of ../shared; a wrong input must fail.
// Then a fresh Vite React + TypeScript app (create-vite's react-ts template: its tsconfig,
// index.html, vite.config) installs the tarball beside @trpc/tanstack-react-query and
// @tanstack/react-query with no override or --legacy-peer-deps (npm resolves the tRPC peers
// itself), type-checks examples/react-app.tsx and builds it with Vite. Packages come from the
// npm cache first (--prefer-offline): the exact versions this repository locks, so a machine
// that installed this repository needs the registry only for what the lock does not hold.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled } from './support/load.ts';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const PACKAGE = '@manas360/api-client';

/** The exact versions this repository locks, so the install is served from the npm cache. */
function locked(name: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  return `${name}@${lock.packages[`node_modules/${name}`].version}`;
}

/** Vite's create-vite react-ts tsconfig.app.json (less `types: ["vite/client"]`, Vite's own). */
const VITE_APP_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    useDefineForClassFields: true,
    lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    module: 'ESNext',
    skipLibCheck: true,
    moduleResolution: 'bundler',
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    moduleDetection: 'force',
    noEmit: true,
    jsx: 'react-jsx',
    strict: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    erasableSyntaxOnly: true,
    noFallthroughCasesInSwitch: true,
    noUncheckedSideEffectImports: true,
  },
  include: ['src'],
};

/** A call a client must not be able to make: the wrong type for a field, an unknown procedure. */
const WRONG = `import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '${PACKAGE}';

const api = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/trpc', transformer: superjson })] });
export const wrongType = api.mood.log.mutate({ score: 'high' });
export const unknownProcedure = api.mood.delete.mutate({ id: 'x' });
`;

/** tsc's "file(line,col): error TSxxxx" lines. */
async function typecheck(project: string, config: string): Promise<string[]> {
  const out = await run(process.execPath, [TSC, '--noEmit', '-p', config], { cwd: project }).then(
    (r) => r.stdout,
    (err: { stdout?: string }) => err.stdout ?? String(err),
  );
  return out.split('\n').filter((line) => /error TS\d+/.test(line));
}

/** The client package, built and packed once for the projects below. */
let packing: Promise<string> | undefined;
function packedTarball(into: string): Promise<string> {
  packing ??= (async () => {
    await run('npm', ['run', 'build:client'], { cwd: ROOT });
    const dir = mkdtempSync(join(tmpdir(), 'manas360-client-pack-'));
    const { stdout } = await run(
      'npm',
      ['pack', '--silent', '--pack-destination', dir, './packages/client'],
      {
        cwd: ROOT,
      },
    );
    return join(dir, stdout.trim().split('\n').at(-1) ?? '');
  })();
  return packing.then((tarball) => {
    const copy = join(into, basename(tarball));
    copyFileSync(tarball, copy);
    return copy;
  });
}

describe(`the ${PACKAGE} package, packed and installed into a fresh project`, () => {
  let project: string;

  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'manas360-client-'));
    const tarball = await packedTarball(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'outside-app', private: true, type: 'module' }),
    );
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        tarball,
        locked('@trpc/client'),
        locked('@trpc/server'),
        locked('superjson'),
        locked('zod'),
      ],
      { cwd: project },
    );
    // The client: examples/client.ts as an app would have it, importing the package.
    const example = readFileSync(join(ROOT, 'examples/client.ts'), 'utf8');
    expect(example).toContain("from '../shared/index.ts'");
    writeFileSync(
      join(project, 'client.ts'),
      example.replace("from '../shared/index.ts'", `from '${PACKAGE}'`),
    );
    // tsc --init's own configuration, unedited: it compiles every .ts file of the project.
    await run(process.execPath, [TSC, '--init'], { cwd: project });
    writeFileSync(join(project, 'tsconfig.app.json'), JSON.stringify(VITE_APP_TSCONFIG));
    await run('mkdir', ['-p', join(project, 'src')]);
    copyFileSync(join(project, 'client.ts'), join(project, 'src/client.ts'));
  }, scaled(120_000));

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('needs nothing of the server: its declarations import only the peer packages and zod', () => {
    const installed = join(project, 'node_modules', PACKAGE);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual([
      '@trpc/client',
      '@trpc/server',
      'superjson',
    ]);
    expect(Object.keys(manifest.dependencies)).toEqual(['zod']);
    const dts = readFileSync(join(installed, 'dist/index.d.ts'), 'utf8');
    const imports = new Set([...dts.matchAll(/from '([^']+)'/g)].map((m) => m[1]));
    // The peers and zod only, with their subpaths (tRPC's public types reach its internal
    // ones: the live crisis queue's tracked events; zod's schema types reach zod/v4/core).
    // The passkey ceremonies' options are the contracts' schemas
    // (shared/contracts/auth/mfa.ts), not @simplewebauthn/server's types.
    const packages = new Set(
      [...imports].map((i = '') => ['@trpc/server', 'zod'].find((p) => i.startsWith(`${p}/`)) ?? i),
    );
    expect([...packages].sort()).toEqual(['@trpc/server', 'zod']);
  });

  it(
    'compiles examples/client.ts under tsc --init defaults',
    async () => {
      expect(await typecheck(project, 'tsconfig.json')).toEqual([]);
    },
    scaled(60_000),
  );

  it(
    "compiles examples/client.ts under Vite's React + TypeScript app configuration",
    async () => {
      expect(await typecheck(project, 'tsconfig.app.json')).toEqual([]);
    },
    scaled(60_000),
  );

  it(
    'refuses a wrong input and an unknown procedure under both configurations',
    async () => {
      writeFileSync(join(project, 'wrong.ts'), WRONG);
      writeFileSync(join(project, 'src/wrong.ts'), WRONG);
      for (const config of ['tsconfig.json', 'tsconfig.app.json']) {
        const errors = await typecheck(project, config);
        expect(errors.every((e) => /wrong\.ts\(\d+,\d+\)/.test(e))).toBe(true);
        expect(
          errors.some((e) =>
            /wrong\.ts\(6,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/.test(e),
          ),
        ).toBe(true);
        expect(
          errors.some((e) => /wrong\.ts\(7,\d+\): error TS2339: Property 'delete' does not exist/.test(e)),
        ).toBe(true);
      }
      rmSync(join(project, 'wrong.ts'));
      rmSync(join(project, 'src/wrong.ts'));
    },
    scaled(60_000),
  );

  it('ships the catalog, error reasons and input schemas as JavaScript', async () => {
    const script = `import { FORBIDDEN_REASONS, PLAN_CODES, logMoodInput } from '${PACKAGE}';
console.log(JSON.stringify({
  reasons: FORBIDDEN_REASONS.includes('missing_feature'),
  plans: PLAN_CODES,
  ok: logMoodInput.safeParse({ score: 5 }).success,
  refused: logMoodInput.safeParse({ score: 11 }).error?.issues[0]?.path,
}));`;
    writeFileSync(join(project, 'runtime.mjs'), script);
    const { stdout } = await run(process.execPath, ['runtime.mjs'], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({
      reasons: true,
      plans: ['free', 'basic', 'premium', 'enterprise'],
      ok: true,
      refused: ['score'],
    });
  });
});

describe('a fresh Vite React + TypeScript app with @trpc/tanstack-react-query and the packed client', () => {
  let app: string;
  let install: { stdout: string; stderr: string };

  beforeAll(async () => {
    app = mkdtempSync(join(tmpdir(), 'manas360-react-'));
    const tarball = await packedTarball(app);
    // create-vite's react-ts template, less its lint setup.
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'react-app',
        private: true,
        version: '0.0.0',
        type: 'module',
        scripts: { build: 'tsc -b && vite build' },
      }),
    );
    writeFileSync(
      join(app, 'index.html'),
      '<!doctype html>\n<html lang="en">\n<head><meta charset="UTF-8" /><title>app</title></head>\n' +
        '<body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body>\n</html>\n',
    );
    writeFileSync(
      join(app, 'vite.config.ts'),
      "import react from '@vitejs/plugin-react';\nimport { defineConfig } from 'vite';\n\nexport default defineConfig({ plugins: [react()] });\n",
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ files: [], references: [{ path: './tsconfig.app.json' }] }),
    );
    writeFileSync(
      join(app, 'tsconfig.app.json'),
      JSON.stringify({
        ...VITE_APP_TSCONFIG,
        compilerOptions: {
          ...VITE_APP_TSCONFIG.compilerOptions,
          types: ['vite/client'],
          tsBuildInfoFile: './node_modules/.tmp/tsconfig.app.tsbuildinfo',
        },
      }),
    );
    mkdirSync(join(app, 'src'));
    const source = readFileSync(join(ROOT, 'examples/react-app.tsx'), 'utf8');
    expect(source).toContain("from '../shared/index.ts'");
    writeFileSync(
      join(app, 'src/main.tsx'),
      source.replace("from '../shared/index.ts'", `from '${PACKAGE}'`),
    );
    // No @trpc/client or @trpc/server named: npm picks the versions every peer range allows.
    install = await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        tarball,
        locked('@trpc/tanstack-react-query'),
        locked('@tanstack/react-query'),
        locked('react'),
        locked('react-dom'),
        locked('superjson'),
        locked('zod'),
      ],
      { cwd: app },
    );
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--save-dev',
        locked('vite'),
        locked('@vitejs/plugin-react'),
        locked('typescript'),
        locked('@types/react'),
        locked('@types/react-dom'),
      ],
      { cwd: app },
    );
  }, 600_000);

  afterAll(() => {
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('installs without a peer conflict, one version of each tRPC package', async () => {
    expect(install.stderr).not.toMatch(/ERESOLVE|peer dep|legacy-peer-deps/i);
    const { stdout } = await run('npm', ['ls', '--all', '--json', '@trpc/client', '@trpc/server'], {
      cwd: app,
    });
    const versions = new Set([...stdout.matchAll(/"version": "(11\.[^"]+)"/g)].map((m) => m[1]));
    expect(versions.size).toBe(1);
  }, 120_000);

  it('type-checks (tsc -b) and builds (vite build) the React app', async () => {
    const tsc = await run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-b'], {
      cwd: app,
    }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    expect(tsc).toBe('');
    await run(process.execPath, [join(app, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: app,
    });
    const html = readFileSync(join(app, 'dist/index.html'), 'utf8');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const bundle = readFileSync(join(app, 'dist', script!), 'utf8');
    // The app's own code and tRPC's React client are in the bundle; no server code is.
    expect(bundle).toContain('https://api.example.com/trpc');
    expect(bundle).not.toMatch(/drizzle|fastify|ioredis/);
  }, 300_000);
});
