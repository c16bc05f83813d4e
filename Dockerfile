# chevereto-bot: python -m bot in a slim image, as a non-root user, with DATA_DIR on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data --no-create-home bot \
    && mkdir -p /data \
    && chown bot /data

USER 10001
VOLUME ["/data"]
EXPOSE 8443
ENTRYPOINT ["python", "-m", "bot"]
