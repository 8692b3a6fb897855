# mhats manager image. Build: docker build -t mhats .
# Run:   docker run -d --name mhats -v /etc/mhats:/etc/mhats:ro -v mhats-state:/var/lib/mhats mhats
# The config (/etc/mhats/mhats.yaml, or an MHA app1.cnf via --conf) and the SSH
# key and known_hosts it names are mounted read-only; state is a volume.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The web console is built from npm packages (Preact, esbuild) into dist/console.
COPY console ./console
COPY scripts/build-console.mjs ./scripts/
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# OpenSSH client and rsync for hooks; the MariaDB client for mysqlbinlog-based recovery.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client rsync mariadb-client ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system mhats && useradd --system --gid mhats --home-dir /var/lib/mhats mhats \
 && mkdir -p /var/lib/mhats /etc/mhats && chown mhats:mhats /var/lib/mhats
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER mhats
VOLUME ["/var/lib/mhats", "/etc/mhats"]
ENTRYPOINT ["node", "/app/dist/cli/bin.js"]
CMD ["manager", "--conf", "/etc/mhats/mhats.yaml"]
