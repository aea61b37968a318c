# MANAS360 API image. The server runs its TypeScript directly with tsx (a runtime
# dependency), so there is no build step: stage 1 installs production dependencies only,
# stage 2 copies them with the sources and runs as the unprivileged `node` user.
#   docker build -t manas360-api .
#   docker run --rm --env-file .env manas360-api npm run db:migrate   # once per release, before the new version
#   docker run -d --env-file .env -p 3000:3000 manas360-api
# See docs/operations.md.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Owned by root and read-only for the process: the app writes nothing to disk in production.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY db ./db
COPY migrations ./migrations
COPY scripts ./scripts
COPY server ./server
COPY shared ./shared
USER node
EXPOSE 3000
# Liveness only; orchestrators should route by GET /readyz (Postgres + Redis + not draining).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# node itself is PID 1 (not npm), so SIGTERM reaches the graceful shutdown.
CMD ["node", "--import", "tsx", "server/index.ts"]
