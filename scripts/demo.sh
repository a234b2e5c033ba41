#!/usr/bin/env bash
# The main job: the Telegram bot on the embedded demo catalog (data/demo).
# Needs TELEGRAM_BOT_TOKEN from @BotFather; without it lookbot says so and exits non-zero.
# The demo is offline, so the nightly Myntra crawl is off unless LOOKBOT_CRAWL_TIME is set.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOOKBOT_CRAWL_TIME="${LOOKBOT_CRAWL_TIME:-off}"
if [ -z "${TELEGRAM_BOT_TOKEN:-}" ]; then
    echo "make demo: TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather, export it and run again." >&2
    echo "make demo: meanwhile, here is the engine on the bundled example photo:" >&2
    .venv/bin/lookbot look data/examples/look.jpg --draw data/examples/look-detections.jpg >&2
    exit 2
fi
exec .venv/bin/lookbot bot
