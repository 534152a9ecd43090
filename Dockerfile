# syntax=docker/dockerfile:1
# The unmute-operator image. Node 24 runs the TypeScript sources directly (type stripping,
# docs/adr/0001), so there is no compile step: one stage installs production dependencies,
# the final stage holds them plus src/ and the operator's bin/ entry. The simulator (src/sim,
# bin/unmute-sim.js) is a separate command that never runs in a container: .dockerignore keeps it
# out of the build context, so no stage can copy it. docs/operations.md explains how to build it.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script, and none should run here.
# `ws` is the simulator's websocket library, yet it is installed here too, and no npm flag could
# leave it out (making it optional would only pretend): @kubernetes/client-node, which the operator
# needs for kubeconfig loading, declares it as a dependency of its own.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# Two malloc arenas instead of up to eight per core: src/cli/node-flags.ts (OPERATOR_ENV) says why.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin/unmute-operator.js ./bin/
COPY src/ ./src/
# Node's compile cache, filled here by loading every command (run --help loads the whole operator):
# started from it, the operator neither strips types again nor holds the compiler that does
# (bin/unmute-operator.js). Node uses a cache only under the flags it was made with, hence the same
# flags as the entrypoint; it is made readable to the unprivileged user.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node --max-semi-space-size=8 --heap-growing-percent=25 bin/unmute-operator.js run --help > /dev/null \
 && chmod -R a+rX /app/.node-compile-cache
# Files stay root-owned and read-only to the process; nothing is written at run time, so the
# container works with readOnlyRootFilesystem. 65532 matches the chart's runAsUser.
USER 65532:65532
# 8080: /metrics, 8081: /healthz and /readyz (the chart's defaults).
EXPOSE 8080 8081
# Node flags: src/cli/node-flags.ts says why (a unit test keeps the two equal).
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=25", "bin/unmute-operator.js"]
CMD ["run"]
