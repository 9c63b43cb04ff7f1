# syntax=docker/dockerfile:1
# Build stage: install Byline and its locked dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/byline
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
RUN /opt/byline/bin/pip install -c constraints.txt .

# Run stage: the virtual environment, the migrations and the sample articles; no compiler.
FROM python:3.11-slim
ENV PATH=/opt/byline/bin:$PATH PYTHONUNBUFFERED=1 \
    BYLINE_DATABASE_URL=sqlite:////data/byline.db
RUN groupadd --system byline && useradd --system --gid byline --home-dir /srv/byline byline \
    && mkdir -p /data /srv/byline && chown byline:byline /data
WORKDIR /srv/byline
COPY --from=build /opt/byline /opt/byline
COPY alembic.ini ./
COPY migrations ./migrations
COPY examples ./examples
USER byline
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
CMD ["sh", "-c", "byline migrate && exec byline serve --host 0.0.0.0 --port 8000 --workers ${BYLINE_WORKERS:-2}"]
