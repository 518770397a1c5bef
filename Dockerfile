# Hearth's production image: the built site, production dependencies only, run as a non-root user.
# Build: docker build -t hearth .    Run the whole stack: docker compose up (see compose.yaml, README).

# --- build: every dependency, then the Astro build --------------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV ASTRO_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY astro.config.mjs tsconfig.json ./
COPY src ./src
COPY db ./db
COPY emails ./emails
COPY locales ./locales
RUN node node_modules/astro/bin/astro.mjs build

# --- runtime: production dependencies, the sources Node runs as TypeScript, the built site ------
FROM node:24-bookworm-slim AS runtime
WORKDIR /app
# MALLOC_*: glibc's malloc settings for the server (src/lib/heap.ts ALLOCATOR_ENV, which explains
# them; bench/RESULTS.md, soak): fewer arenas, and the mmap and trim thresholds fixed at glibc's
# defaults instead of rising after each large free. Not Hearth settings: glibc reads them at start.
# `serve` and `worker` set them themselves (re-executing once) when they are missing; set here, the
# container's process starts once.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4321 \
    DATA_DIR=/data \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=262144 \
    MALLOC_TRIM_THRESHOLD_=131072
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY astro.config.mjs tsconfig.json ./
COPY src ./src
COPY db ./db
COPY emails ./emails
COPY locales ./locales
COPY --from=build /app/dist ./dist
# The server rebuilds when dist/ is older than its sources; here it never is.
RUN touch dist/server/entry.mjs \
 && mkdir -p /data/uploads \
 && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4321
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4321) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The web server only; compose.yaml runs the worker from the same image with `worker`.
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["serve", "--no-worker"]
