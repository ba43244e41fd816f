# syntax=docker/dockerfile:1
# Multi-stage build: cargo-chef caches the dependency layer so a source change only
# rebuilds modeld itself; the runtime is debian-slim with a non-root user.

FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.71
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --bin modeld

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 modeld \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin modeld \
    && mkdir -p /data && chown modeld:modeld /data
WORKDIR /app
COPY --from=builder /src/target/release/modeld /usr/local/bin/modeld
COPY config ./config
ENV MODELD_DATA_DIR=/data \
    MODELD_HOST=0.0.0.0 \
    MODELD_PORT=8080
VOLUME ["/data"]
# 8081: the OIP gRPC service (grpc.port)
EXPOSE 8080 8081
# Numeric, so Kubernetes can check runAsNonRoot (deploy/kubernetes runs it as 10001:10001).
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/modeld"]
