# One image for every Newsroom service; docker-compose.yml chooses each container's command.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY newsroom ./newsroom
# Build wheels once; the runtime stage installs them without compilers or caches.
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 newsroom \
 && useradd --system --uid 10001 --gid newsroom --home-dir /app --shell /usr/sbin/nologin newsroom
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
 && mkdir -p /app /srv/site && chown newsroom:newsroom /srv/site
WORKDIR /app
# Logging configuration for uvicorn (JSON lines on standard output).
COPY deploy/logging.json /app/deploy/logging.json
USER 10001:10001
EXPOSE 8001 8002
CMD ["newsroom", "--help"]
