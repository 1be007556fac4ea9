# syntax=docker/dockerfile:1
# sentinel-ingest: the ingest API. Build from the repository root:
#   docker build -f infra/docker/ingest.Dockerfile -t sentinel-ingest .   (or: make image SVC=ingest)

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11-slim-bookworm AS build
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# Dependencies first: this layer changes only with the lock. --locked needs every workspace member's manifest.
COPY pyproject.toml uv.lock ./
COPY packages/analytics/pyproject.toml packages/analytics/
COPY packages/config/pyproject.toml packages/config/
COPY packages/connectors/pyproject.toml packages/connectors/
COPY packages/control/pyproject.toml packages/control/
COPY packages/flows/pyproject.toml packages/flows/
COPY packages/flowtasks/pyproject.toml packages/flowtasks/
COPY packages/local/pyproject.toml packages/local/
COPY packages/queue/pyproject.toml packages/queue/
COPY packages/sandbox/pyproject.toml packages/sandbox/
COPY packages/sdk/pyproject.toml packages/sdk/
COPY packages/service/pyproject.toml packages/service/
COPY packages/storage/pyproject.toml packages/storage/
COPY packages/types/pyproject.toml packages/types/
COPY services/dashboard/pyproject.toml services/dashboard/
COPY services/ingest/pyproject.toml services/ingest/
COPY services/worker/pyproject.toml services/worker/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-workspace --package sentinel-ingest

# The service and the workspace packages it uses, installed as wheels (the sources do not reach the final image).
COPY packages/ packages/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable --package sentinel-ingest

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="sentinel-ingest" \
      org.opencontainers.image.description="Sentinel ingest API"
RUN groupadd --system --gid 10001 sentinel \
    && useradd --system --uid 10001 --gid sentinel --create-home --home-dir /home/sentinel \
        --shell /usr/sbin/nologin sentinel \
    && install -d -o sentinel -g sentinel -m 0750 /data /data/control
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SENTINEL_INGEST_HOST=0.0.0.0 \
    SENTINEL_INGEST_PORT=8301 \
    SENTINEL_CONTROL_SQLITE_PATH=/data/control/control.db
WORKDIR /app
USER 10001:10001
EXPOSE 8301
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['SENTINEL_INGEST_PORT'] + '/healthz', timeout=4)"]
ENTRYPOINT ["/app/.venv/bin/sentinel-ingest"]
