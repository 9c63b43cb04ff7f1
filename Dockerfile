# syntax=docker/dockerfile:1
# Byline's image: one image, three roles (docs/DEPLOY.md):
#   server (the default command): `byline migrate` (unless MIGRATE_ON_START=false), then
#           `byline serve` with BYLINE_WORKERS processes, healthy once /readyz answers 200;
#   worker: `docker run IMAGE byline worker` (webhook delivery, embargo lifts);
#   release step: `docker run IMAGE byline migrate`, once per deployment of several servers.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: Byline and its pinned dependencies (constraints.txt) in a virtual environment.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/byline
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
RUN /opt/byline/bin/pip install -c constraints.txt .

# Run stage: the virtual environment, the migrations and the sample articles; no build tools.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="Byline" \
      org.opencontainers.image.description="Structured news articles over versioned JSON and syndication formats"
ENV PATH=/opt/byline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BYLINE_DATABASE_URL=sqlite:////data/byline.db \
    BYLINE_WORKERS=2 \
    MIGRATE_ON_START=true
# A fixed numeric id, so that volume ownership and `runAsNonRoot` checks need no passwd lookup.
RUN groupadd --system --gid 10001 byline \
    && useradd --system --uid 10001 --gid 10001 --home-dir /srv/byline --shell /usr/sbin/nologin byline \
    && mkdir -p /data /srv/byline \
    && chown 10001:10001 /data
WORKDIR /srv/byline
COPY --from=build /opt/byline /opt/byline
# alembic.ini is found in the working directory by an installed Byline (app/core/paths.py).
COPY alembic.ini ./
COPY migrations ./migrations
COPY examples ./examples
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
# `exec` makes uvicorn PID 1, so `docker stop` (SIGTERM) drains requests before exiting.
CMD ["sh", "-c", "if [ \"$MIGRATE_ON_START\" != false ]; then byline migrate; fi && exec byline serve --host 0.0.0.0 --port 8000 --workers \"$BYLINE_WORKERS\""]
