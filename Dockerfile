# MANAS360 API image: compiled JavaScript on Node 24 LTS, production dependencies only.
# No TypeScript, esbuild, tsx or PGlite in the final stage; runs as the unprivileged `node`
# user and writes nothing to disk, so it runs with a read-only root filesystem:
#   docker build -t manas360-api .
#   docker run --rm --env-file .env manas360-api node dist/migrate.js   # once per release, before the new version
#   docker run -d --read-only --env-file .env -p 3000:3000 manas360-api
# The Node version matches .nvmrc (what CI tests on). See docs/operations.md.

# 1. Build: esbuild bundles server/index.ts, scripts/migrate.ts and scripts/keys.ts into
#    dist/ (node_modules packages stay external) and Vite builds the admin console into
#    dist/admin (npm run build).
FROM node:24.22.3-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY db ./db
COPY scripts ./scripts
COPY server ./server
COPY shared ./shared
COPY web ./web
RUN npm run build

# 2. Production dependencies. --legacy-peer-deps: npm would otherwise also install the peer
#    dependencies tRPC declares (typescript, 23 MB) and drizzle-orm's optional PGlite peer;
#    neither runs in production.
FROM node:24.22.3-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --legacy-peer-deps --no-audit --no-fund && npm cache clean --force

# 3. The image: node_modules, dist and migrations, owned by root and read-only for the
#    process. npm, npx and corepack are removed: nothing runs them.
FROM node:24.22.3-slim
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json ./
COPY migrations ./migrations
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Liveness only; orchestrators should route by GET /readyz (Postgres + Redis + not draining).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# node itself is PID 1 (not npm), so SIGTERM reaches the graceful shutdown.
CMD ["node", "--enable-source-maps", "dist/server.js"]
