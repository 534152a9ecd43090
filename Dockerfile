# syntax=docker/dockerfile:1
# The unmute-operator image. Node 24 runs the TypeScript sources directly (type stripping,
# docs/adr/0001), so there is no compile step: one stage installs production dependencies,
# the final stage holds them plus src/ and bin/. docs/operations.md explains how to build it.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script, and none should run here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin/ ./bin/
COPY src/ ./src/
# Files stay root-owned and read-only to the process; nothing is written at run time, so the
# container works with readOnlyRootFilesystem. 65532 matches the chart's runAsUser.
USER 65532:65532
# 8080: /metrics, 8081: /healthz and /readyz (the chart's defaults).
EXPOSE 8080 8081
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["run"]
