# chevereto-bot: python -m bot in a slim image, as a non-root user, with DATA_DIR on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    HEALTH_LISTEN=0.0.0.0:9464

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
# 8443: the Telegram webhook (when TELEGRAM_WEBHOOK_URL is set); 9464: /healthz and /metrics.
EXPOSE 8443 9464
# /healthz: 200 when the database answers and every platform is connected (bot/healthcheck.py:
# Python, since the image has no curl). The start period covers connecting to the platforms.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
ENTRYPOINT ["python", "-m", "bot"]
