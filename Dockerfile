# One image for every Newsroom service; docker-compose.yml chooses each container's command.
FROM python:3.11.17-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Every package exactly as requirements.lock pins it, each checked against its hashes (`make
# lock` writes the file); the project itself then on top, built with the locked setuptools.
RUN python -m venv /venv
COPY requirements.lock ./
RUN /venv/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY newsroom ./newsroom
RUN /venv/bin/pip install --no-deps --no-build-isolation . && /venv/bin/pip check

FROM python:3.11.17-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/venv/bin:$PATH
RUN groupadd --system --gid 10001 newsroom \
 && useradd --system --uid 10001 --gid newsroom --home-dir /app --shell /usr/sbin/nologin newsroom
COPY --from=build /venv /venv
# The site and beat's state are volumes (docker-compose.yml); a new volume takes the owner of
# the folder it is mounted on. The rest of the file system is read-only in compose.
RUN mkdir -p /app /srv/site /var/lib/newsroom \
 && chown newsroom:newsroom /srv/site /var/lib/newsroom
WORKDIR /app
# Logging configuration for uvicorn (JSON lines on standard output).
COPY deploy/logging.json /app/deploy/logging.json
USER 10001:10001
EXPOSE 8001 8002
CMD ["newsroom", "--help"]
