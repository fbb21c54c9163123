# syntax=docker/dockerfile:1

# Build: compile TypeScript and the native SQLite binding with the full toolchain.
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY client/package.json ./client/
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY client ./client
COPY demo ./demo
COPY scripts/build-demo.ts ./scripts/
RUN npm run build && npm prune --omit=dev

# Run: only the compiled code and production dependencies, as a non-root user.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DUOLOG_DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The demo page (off in production unless DUOLOG_DEMO=true) and its bundle.
COPY --from=build --chown=node:node /app/demo/index.html ./demo/index.html
COPY --from=build --chown=node:node /app/demo/dist ./demo/dist
# /asyncapi.json is served from the committed document.
COPY --chown=node:node openapi/asyncapi.json ./openapi/asyncapi.json
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# DUOLOG_JWT_SECRET is required in production: pass it at run time, never bake it in.
# A larger young generation: see README, "Run and test".
CMD ["node", "--max-semi-space-size=64", "dist/server.js"]
