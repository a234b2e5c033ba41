#!/usr/bin/env bash
# One lease of a GPU machine (see DEVELOPERS.md, "device"), in parallel and each with a wall-time
# budget, through the same lookbot commands a CPU runs:
#   - DETECTORS=1: two fine-tuning stages of the committed detector at 576 px (lr0 0.002, 0.005);
#   - BB_VARIANTS: end-to-end fine-tunes of the EfficientNet-Lite2 backbone (`lookbot tune-backbone`),
#     each "name:lr:clean-share".
#
# The machine has PyTorch but not ultralytics or EfficientNet-Lite, and cannot reach ../shared or
# the internet. So the call carries, in git-ignored folders, what scripts/device_pack.py builds:
#   .whl/      ultralytics, ultralytics-thop, ultralytics-platform, efficientnet-lite-pytorch wheels
#              (pip download --no-deps --python-version 3.12, as the device README says)
#   .devdata/  labels.tar.gz, efficientnet-lite2-int8.pth, and ccp-photos.tar.gz (detectors) or
#              backgrounds.tar.gz (backbone only)
# A call may carry 64 MiB counted in disk blocks and the repository takes 47, so with DETECTORS=1
# the CCP photos travel in a first call (`mkdir -p /tmp/keep && cp .devdata/ccp-photos.tar.gz
# /tmp/keep/`, carrying only that file) and stay on the warm machine for this second one.
# Results come back in $OUT (at most 8 files): det-a/det-b and one per backbone variant, each
# .pt and .json, and log.txt.
# SMOKE=1 runs the same steps for a minute on the CPU (a rehearsal).
set -u
T0=$(date +%s)
LIMIT=${LIMIT:-500}          # seconds this script may run; results are collected before it
DET_HOURS=${DET_HOURS:-0.095} # each detector stage's training budget
BB_MINUTES=${BB_MINUTES:-5}  # the backbone fine-tunes' training budget
DETECTORS=${DETECTORS:-1}    # 0: backbone fine-tunes only
BB_VARIANTS=${BB_VARIANTS:-bb:3e-4:0.3}  # name:lr:clean-share, space-separated
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT"
W=/tmp/lookbot-device
rm -rf "$W" && mkdir -p "$W/stub/polars"
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/log.txt"; }

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$W/site" .whl/*.whl \
  || { log "wheel install failed"; exit 1; }
# ultralytics imports polars only to read its results.csv back into the checkpoint's metadata
# (inside a try); this machine has no polars, so that read fails and is skipped.
echo 'def read_csv(*args, **kwargs): raise NotImplementedError("no polars here")' > "$W/stub/polars/__init__.py"
export PYTHONPATH="$W/site:$W/stub:$PWD" PYTHONUNBUFFERED=1 YOLO_OFFLINE=1
ARCHIVES="labels"; [ "$DETECTORS" = 1 ] && ARCHIVES="ccp-photos labels" || ARCHIVES="backgrounds labels"
for a in $ARCHIVES; do
  f=".devdata/$a.tar.gz"; [ -f "$f" ] || f="/tmp/keep/$a.tar.gz"  # left by the first call
  tar -xzf "$f" -C "$W" || { log "cannot unpack $a.tar.gz"; exit 1; }
done
export LOOKBOT_SHARED_DATA="$W/shared/data" YOLO_CONFIG_DIR="$W/yolo-config"
INIT_W="$W/efficientnet-lite2.pth"
python3 - "$INIT_W" <<'EOF' || { log "weights dequantisation failed"; exit 1; }
import sys, torch
q = torch.load(".devdata/efficientnet-lite2-int8.pth", map_location="cpu")
def value(v):
    if isinstance(v, dict):
        return v["q"].float() * v["s"].float().view(-1, *[1] * (v["q"].dim() - 1))
    return v.float() if v.is_floating_point() else v
torch.save({k: value(v) for k, v in q.items()}, sys.argv[1])
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$OUT/log.txt"
python3 -c "import torch, ultralytics; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'ultralytics', ultralytics.__version__)" 2>&1 | tee -a "$OUT/log.txt"

if [ "${SMOKE:-0}" = 1 ]; then
  DEV=cpu; BBDEV=cpu; DET_EXTRA="--limit 8 --epochs 1 --batch 4"; BB_EXTRA="--subset 40 --epochs 1"; NW=0
else
  DEV=0; BBDEV=cuda; DET_EXTRA="--epochs 300 --hours $DET_HOURS --batch 32"; BB_EXTRA="--epochs 60 --minutes $BB_MINUTES"; NW=${WORKERS:-5}
fi

collect() {  # copy whatever is finished (or the best epoch so far) into $OUT
  for v in a b; do
    d="$W/det-$v"
    if [ -f "$d/detector.pt" ]; then cp "$d/detector.pt" "$OUT/det-$v.pt"; cp "$d/detector_report.json" "$OUT/det-$v.json"
    elif [ -f "$d/datasets/ccp-yolo/runs/train/weights/best.pt" ]; then cp "$d/datasets/ccp-yolo/runs/train/weights/best.pt" "$OUT/det-$v.pt"; fi
    [ -f "$d/datasets/ccp-yolo/runs/train/results.csv" ] && { echo "== det-$v results.csv"; cat "$d/datasets/ccp-yolo/runs/train/results.csv"; } >> "$OUT/log.txt"
  done
  for v in $BB_VARIANTS; do
    n=${v%%:*}; [ -f "$W/$n/backbone.pt" ] && cp "$W/$n/backbone.pt" "$OUT/$n.pt" && cp "$W/$n/backbone_report.json" "$OUT/$n.json"
  done
  log "collected: $(ls "$OUT" | tr '\n' ' ')"
}

detector() {  # $1 = a|b, $2 = lr0
  python3 -m lookbot.cli train-detector --init data/models/detector.pt --imgsz 576 --lr0 "$2" \
    --device $DEV --workers $NW $DET_EXTRA --out "$W/det-$1" > "$W/det-$1.log" 2>&1
  log "detector $1 exited $?: $(grep -o '"mAP50": [0-9.]*' "$W/det-$1/detector_report.json" 2>/dev/null | head -1)"
}

( while [ $(( $(date +%s) - T0 )) -lt $((LIMIT - 30)) ]; do [ -f "$W/finished" ] && exit 0; sleep 2; done
  log "time is nearly up"; collect ) > /dev/null 2>&1 &
PIDS=""; LOGS=""
if [ "$DETECTORS" = 1 ]; then
  detector a 0.002 & PIDS="$PIDS $!"
  detector b 0.005 & PIDS="$PIDS $!"
  LOGS="det-a det-b"
fi
for v in $BB_VARIANTS; do
  IFS=: read -r n lr clean <<< "$v"
  ( python3 -m lookbot.cli tune-backbone --device $BBDEV --workers $NW $BB_EXTRA --lr "$lr" \
      --clean-share "$clean" --init-weights "$INIT_W" --out "$W/$n/backbone.pt" > "$W/$n.log" 2>&1
    log "backbone $n exited $?" ) & PIDS="$PIDS $!"
  LOGS="$LOGS $n"
done
sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>&1 | tee -a "$OUT/log.txt"
wait $PIDS
touch "$W/finished"
for f in $LOGS; do echo "== $f.log (tail)"; tr '\r' '\n' < "$W/$f.log" | grep -vE '^\s*($|["{}]|\[|\])' | tail -40; done >> "$OUT/log.txt"
collect
for v in $BB_VARIANTS; do n=${v%%:*}; echo "== $n"; grep -A4 '"after"' "$W/$n.log"; done
log "done"
