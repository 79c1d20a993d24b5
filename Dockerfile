# Ranker's collector and API, one process per container: scale with replicas behind a load
# balancer (docker-compose.yml runs three) rather than with `ranker serve --workers`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The package and every dependency from pyproject.toml; the sources are not kept.
COPY pyproject.toml README.md /src/
COPY ranker /src/ranker
RUN pip install /src && rm -rf /src

RUN groupadd --system --gid 10001 ranker \
    && useradd --system --uid 10001 --gid ranker --create-home --home-dir /var/lib/ranker \
        --shell /usr/sbin/nologin ranker
# The commented example; docker-compose.yml mounts deploy/ranker.toml over it. Both read the
# site's token from $RANKER_TOKEN, which the image leaves unset: a container refuses to start
# until it is given one (`docker run -e RANKER_TOKEN=<output of ranker token>`) or a mounted
# config of its own with a token; a short or published one is refused as well.
COPY ranker.toml /etc/ranker/ranker.toml

# RANKER_DATA_DIR is only used when REDIS_URL is unset: then Ranker starts its embedded
# engine with its append-only file there (a volume, if it should outlive the container).
ENV RANKER_CONFIG=/etc/ranker/ranker.toml \
    RANKER_HOST=0.0.0.0 \
    RANKER_PORT=8080 \
    RANKER_DATA_DIR=/var/lib/ranker
# Numeric, so a runtime can tell without the image's /etc/passwd that it is not root.
USER 10001:10001
WORKDIR /var/lib/ranker
EXPOSE 8080
# SIGTERM: stop accepting, flush what is buffered, exit 0.
STOPSIGNAL SIGTERM
CMD ["ranker", "serve"]
