# syntax=docker/dockerfile:1
# One image for the four MyPay services; each compose service picks its entry with `command`, e.g.
#   node services/payouts/src/main.ts
# Services run their TypeScript source directly (Node 24 strips types), so there is no build stage:
# the first stage installs production dependencies, the second adds the source and drops root.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Manifests only, so this layer is rebuilt only when dependencies change. npm needs every workspace's
# manifest to install the workspace links (@mypay/kit, @mypay/proto → their folders).
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY kit/package.json kit/
COPY services/ledger/package.json services/ledger/
COPY services/payouts/package.json services/payouts/
COPY services/notifier/package.json services/notifier/
COPY services/gateway/package.json services/gateway/
COPY sdk/package.json sdk/
COPY console/package.json console/
COPY e2e/package.json e2e/
# No install scripts: nothing the services need builds anything at install time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# The console is static files built with Vite (a dev dependency), served by the gateway.
FROM ${NODE_IMAGE} AS console
WORKDIR /app
COPY --from=deps /app ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY proto proto
COPY sdk/src sdk/src
COPY console console
RUN npm run build -w @mypay/console

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# The launcher's heap defaults (README, configuration): a bounded heap keeps each service near 150 MB
# under full load; the compile cache keeps the type-stripped sources between restarts.
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=128"
ENV NODE_COMPILE_CACHE=/app/.data/compile-cache
WORKDIR /app
# node_modules at the root and any nested ones inside workspaces, with the workspace links.
COPY --from=deps /app ./
COPY proto proto
COPY kit/src kit/src
COPY services services
COPY --from=console /app/console/dist console/dist
COPY scripts/warm-compile-cache.ts scripts/
# The type-stripped sources go into the compile cache now, so no container strips them (about 15 MB of
# RSS per service). .data is also the embedded SQLite folder, for runs without DATABASE_URL.
RUN mkdir -p .data && node scripts/warm-compile-cache.ts && chown -R node:node .data
USER node
EXPOSE 8080 50051 50052 50053
# Only one service runs per container, so "any service port answers /readyz" means "this one is ready".
# Each service's port comes from its *_PORT variable, defaulting as in the configuration table.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const e=process.env;const ports=[e.LEDGER_PORT||50051,e.PAYOUTS_PORT||50052,e.NOTIFIER_PORT||50053,e.GATEWAY_PORT||8080];Promise.any(ports.map(p=>fetch(`http://127.0.0.1:${p}/readyz`,{signal:AbortSignal.timeout(2000)}).then(r=>{if(!r.ok)throw new Error(String(r.status))}))).then(()=>process.exit(0),()=>process.exit(1))"]
CMD ["node", "services/gateway/src/main.ts"]
