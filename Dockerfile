# chevereto-bot: `python -m bot` from the installed wheel, as uid 10001, with DATA_DIR on /data.
#
#   docker build -t chevereto-bot .
#
# BASE: the image both stages start from, with Python 3.11+, venv and pip 22.3+ (default
# python:3.11-slim). PIP_ARGS: options added to the build's pip calls, e.g. a build from
# wheels served on this machine, without PyPI:
#   docker build --network host --build-arg BASE=... \
#       --build-arg PIP_ARGS="--no-index --find-links http://127.0.0.1:8000/" .
# CI builds it so (.ci/docker), on a Debian 12 base made with debootstrap.
ARG BASE=python:3.11-slim

# The project's wheel, then a venv holding that wheel and its dependencies, nothing else.
FROM ${BASE} AS build
ARG PIP_ARGS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
# PIP_ARGS is split into options on purpose; hadolint takes it for an unpinned package (DL3013),
# and the one package named here is the wheel just built.
# hadolint ignore=SC2086,DL3013
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels $PIP_ARGS . \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-cache-dir $PIP_ARGS /wheels/*.whl

# The image: the base, the venv, a user. No sources, no build/ or egg-info: `python -m bot`
# imports the installed package (PYTHONSAFEPATH: never one in the working directory).
FROM ${BASE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONSAFEPATH=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    HEALTH_LISTEN=0.0.0.0:9464
COPY --from=build /opt/venv /opt/venv
# A folder bind-mounted on /data must be owned by uid 10001 (README, "Docker").
RUN groupadd --gid 10001 bot \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir /data \
    && chown 10001:10001 /data

USER 10001:10001
VOLUME ["/data"]
# 8443: the Telegram webhook (when TELEGRAM_WEBHOOK_URL is set); 9464: /healthz and /metrics.
EXPOSE 8443 9464
# /healthz: 200 when the database answers and every platform is connected (bot/healthcheck.py:
# Python, since the image has no curl). The start period covers connecting to the platforms.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
ENTRYPOINT ["python", "-m", "bot"]
