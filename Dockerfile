# lookbot: the bot, the nightly crawler and the engine in one image.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium chromium-driver libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
# every package pyproject.toml installs (tests/test_dockerfile.py builds from them), then the models
COPY core core
COPY bot bot
COPY scraper scraper
COPY lookbot lookbot
COPY training training
COPY measure measure
COPY data data
RUN pip install --no-cache-dir . && useradd --create-home lookbot && chown -R lookbot /app/data

USER lookbot
ENV LOOKBOT_DATA_DIR=/app/data/demo \
    LOOKBOT_MODELS_DIR=/app/data/models \
    YOLO_OFFLINE=1 \
    PYTHONUNBUFFERED=1
# TELEGRAM_BOT_TOKEN comes from the environment at run time, never from the image.
CMD ["lookbot", "bot"]
