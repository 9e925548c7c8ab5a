# syntax=docker/dockerfile:1
# One image for every service of the DCR pipeline; the command picks the service, e.g.
#   docker run dcr-pipeline node dist/services/intake/main.js
# Without a command it runs everything in one process on the embedded adapters (what `npm start` does).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# better-sqlite3 is a native module: node-gyp needs python3, make and g++ when no prebuilt binary fits.
FROM base AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# Compile TypeScript to dist/ with the full (dev) dependency set.
FROM toolchain AS build
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
RUN npm run build

# Production dependencies only, built against the same base as the runtime stage.
FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

FROM base AS runtime
ENV NODE_ENV=production \
    DCR_DATA_DIR=/data \
    DCR_HOST=0.0.0.0 \
    DCR_ADMIN_HOST=0.0.0.0
# The project tree (package.json, bin/, non-TypeScript assets; .dockerignore keeps out node_modules,
# dist, var, tests), then the compiled code and the production node_modules. All of it stays owned
# by root: the service user can read it, not change it.
COPY . .
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Embedded state / sandbox files. A named volume mounted here starts with this ownership.
RUN mkdir -p /data && chown node:node /data
# `node` (uid 1000) is the unprivileged user of the official Node.js images.
USER node
EXPOSE 8443 8444 8081
CMD ["node", "dist/sandbox/standalone/main.js"]
