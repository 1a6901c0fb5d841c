# One image for every Newsroom service; docker-compose.yml chooses the command.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN groupadd --system --gid 10001 newsroom \
 && useradd --system --uid 10001 --gid newsroom --home-dir /app newsroom
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY newsroom ./newsroom
RUN pip install . && mkdir -p /srv/site && chown newsroom:newsroom /srv/site
USER newsroom
