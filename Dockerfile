# Production image of Pamps: the API and its web app, run by a user without
# privileges. deploy/compose.yaml builds it; by hand: docker build -t pamps .
# Settings come from PAMPS_* variables and a secrets file mounted at
# /app/.secrets.toml (docs/operations.md).

# --- the web app (frontend/), built with Node.js 20 ---------------------------
FROM node:20-slim AS web
WORKDIR /web
COPY frontend/package.json frontend/package-lock.json ./
# The end-to-end tests' browsers are not needed to build.
RUN PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

# --- Python packages, locked by requirements.txt, in a virtualenv -------------
FROM python:3.11-slim AS python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt
COPY setup.py requirements.in README.md MANIFEST.in /src/
COPY pamps/ /src/pamps/
RUN /opt/venv/bin/pip install --no-deps /src

# --- what runs -----------------------------------------------------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAMPS_ENV=production \
    PAMPS_WEB__DIST_DIR=/app/web
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pamps
WORKDIR /app
COPY --from=python /opt/venv /opt/venv
# `pamps migrate` finds its migrations beside alembic.ini in the working directory.
COPY alembic.ini settings.toml ./
COPY migrations/ migrations/
COPY --from=web /web/dist/ web/
USER 10001
EXPOSE 8000
# Readiness: /health answers 503 while the database does not.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# SIGTERM (docker stop, Kubernetes): requests in flight finish within
# server.shutdown_timeout, then the process exits 0.
STOPSIGNAL SIGTERM
CMD ["pamps", "serve", "--host", "0.0.0.0", "--port", "8000"]
