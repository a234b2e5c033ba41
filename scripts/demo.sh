#!/usr/bin/env bash
# The main job on the embedded demo catalog.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/lookbot look data/examples/look.jpg --draw data/examples/look-detections.jpg
