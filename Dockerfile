# Earmark's one image: every production role (`run api|web|catalog|importer|cron|index`) and the
# one-shot commands (`db upgrade`, `backup`, `restore`). docs/deploy.md explains the build.
#
#   docker build -t earmark .                                 # on python:3.11-slim-bookworm
#   docker build --build-arg BASE_IMAGE=my-bookworm -t earmark .   # any Debian bookworm with python3
#
# BASE_IMAGE is either the official Python image (Python in /usr/local) or a plain Debian
# bookworm with Debian's python3 and python3-venv (what `make deploy-test` builds with
# debootstrap, because nothing can be pulled on its machine). Both stages use it, so the virtual
# environment built in the first runs on the second's Python.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A C compiler and Python's headers build earmark.chromaprint._native (13 % less CPU per lookup).
RUN set -eux; \
    packages=""; \
    command -v gcc >/dev/null || packages="gcc libc6-dev"; \
    python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
        || packages="$packages python3-dev"; \
    python3 -c 'import ensurepip' 2>/dev/null || packages="$packages python3-venv"; \
    if [ -n "$packages" ]; then \
        apt-get update; apt-get install -y --no-install-recommends $packages; \
        rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/earmark
COPY deploy/wheels/ /wheels/
COPY pyproject.toml setup.py README.md LICENSE /src/
COPY src/ /src/src/
# Offline when the build context carries wheels (deploy/wheels), from the index otherwise.
RUN set -eux; \
    if ls /wheels/*.whl >/dev/null 2>&1; then offline="--no-index --find-links /wheels"; else offline=""; fi; \
    /opt/earmark/bin/pip install $offline /src; \
    /opt/earmark/bin/python -c 'import earmark.chromaprint._native'; \
    find /opt/earmark -name '__pycache__' -prune -o -name '*.pyi' -exec rm -f {} +; \
    rm -rf /opt/earmark/lib/python3*/site-packages/pip /opt/earmark/lib/python3*/site-packages/setuptools

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# pg_dump/psql for `earmark backup` and `earmark restore` (PostgreSQL 15's client, bookworm's).
RUN set -eux; \
    command -v pg_dump >/dev/null || { \
        apt-get update; apt-get install -y --no-install-recommends postgresql-client-15; \
        rm -rf /var/lib/apt/lists/*; }
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/earmark --create-home earmark \
    && mkdir -p /var/lib/earmark/index /backup && chown earmark:earmark /var/lib/earmark/index /backup
COPY --from=builder /opt/earmark /opt/earmark
COPY deploy/healthcheck.py /usr/local/bin/earmark-healthcheck
ENV PATH=/opt/earmark/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EARMARK_DATA_DIR=/var/lib/earmark \
    EARMARK_API_HOST=0.0.0.0 \
    EARMARK_WEB_HOST=0.0.0.0 \
    EARMARK_CATALOG_HOST=0.0.0.0
USER earmark
WORKDIR /var/lib/earmark
EXPOSE 8080 8081 8082 6080
# One check for every role: it reads the role from the command of process 1 (healthcheck.py).
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/earmark/bin/python", "/usr/local/bin/earmark-healthcheck"]
ENTRYPOINT ["earmark"]
CMD ["--help"]
