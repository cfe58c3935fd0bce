# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json buf.yaml buf.gen.yaml ./
COPY proto ./proto
COPY gen ./gen
COPY src ./src
COPY cmd ./cmd
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    MQLITE_HOST=0.0.0.0 \
    MQLITE_AOF_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.yaml ./
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 7070 8080 9090
USER node
# Healthy while GET /health on the HTTP front answers ok (it answers 503 while the AOF's disk fails:
# docs/DESIGN.md, "When the disk fails"). The image has no curl: the CLI asks. With TLS on, or the
# HTTP front off, replace this check (docker run --health-cmd ...).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD node dist/cmd/mqlite-cli.js --proto http --port "${MQLITE_HTTP_PORT:-8080}" health
# The broker flushes and fsyncs its AOF on SIGTERM (docker stop).
CMD ["node", "dist/cmd/mqlite.js", "--config", "config.yaml"]
