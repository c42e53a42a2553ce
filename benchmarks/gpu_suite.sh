#!/usr/bin/env bash
# The GPU benchmark suite: every GPU measurement of the speed issue in one
# prepared run, for a machine with an NVIDIA GPU where CUDA builds of jax and
# torch are already installed.
#
#   bash benchmarks/gpu_suite.sh                 # on the GPU machine: under 8 minutes
#   bash benchmarks/gpu_suite.sh --out DIR       # results there instead of benchmarks/results
#   bash benchmarks/gpu_suite.sh --budget 480    # seconds for all stages (the default)
#   bash benchmarks/gpu_suite.sh --dry-run       # anywhere: every stage at toy size, on CPU
#
# Stages (each jaxgan-bench run is one stage, limited by `timeout`; a stage that
# fails is recorded and the rest still run while the budget lasts, most
# important first):
#   1. install: `pip install --no-deps --no-build-isolation -e .`, which leaves
#      the machine's jax and torch alone and needs no network; wheels placed in
#      benchmarks/wheels/ (ml-collections, tensorboardX, tensorflow-datasets,
#      for the training code) go in the same way. Where the install fails the
#      checkout is put on PYTHONPATH: the benchmark imports none of those.
#   2. the machine: nvidia-smi, jax's devices, XLA_FLAGS (also in every JSON).
#   3. the DCGAN-64 table at batch 128, float32 then bfloat16: jax jit and
#      scan, torch eager (the example's and tuned); each of these runs first
#      trains jaxgan and PyTorch from the same weights, batch and noise (in
#      float32, with the run's convolution implementation) and stops if their
#      losses differ (1e-4 in step 1).
#   4. the convolution implementations: jax/jit and jax/scan with conv_impl
#      "conv" (the CPU's hand-written derivatives) beside stage 3's "auto",
#      which on a GPU is "xla" (jaxgan/models/layers.py, BACKEND_IMPLS).
#   5. torch.compile at batch 128, float32 then bfloat16, a stage each (its
#      compilation is the slowest part of the run).
#   6. larger batches, fixed in advance (512, 2048): jax/scan in float32 and
#      bfloat16, for images per second and MFU at the largest.
# Each stage writes its JSON; the last step merges them into one file,
# gpu_dcgan64.json (dry run: dryrun_dcgan64.json), beside a log and a summary.
set -uo pipefail

DRY_RUN=0
OUT_DIR=
BUDGET_S=480
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --out) OUT_DIR="${2:?--out needs a folder}"; shift 2 ;;
    --budget) BUDGET_S="${2:?--budget needs seconds}"; shift 2 ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1; use --dry-run, --out DIR or --budget SECONDS" >&2
       exit 2 ;;
  esac
done
[[ -z $OUT_DIR || $OUT_DIR == /* ]] || OUT_DIR="$PWD/$OUT_DIR"   # from where it was called
cd "$(dirname "$0")/.."
OUT_DIR=${OUT_DIR:-benchmarks/results}
mkdir -p "$OUT_DIR" || { echo "error: cannot create --out $OUT_DIR" >&2; exit 2; }
PARTS=$(mktemp -d)
trap 'rm -rf "$PARTS"' EXIT
START=$(date +%s)
LOG="$OUT_DIR/gpu_suite.log"
if [[ $DRY_RUN == 1 ]]; then
  LOG="$OUT_DIR/dryrun_suite.log"
  # Toy size on the CPU: the same stages and variants, seconds each. torch.compile
  # is left out: on 2 CPU cores it compiles for over a minute even at toy size.
  MODEL=(--model dcgan28 --width 2 --steps 1 --repeats 1 --scan_steps 1 --parity_steps 1)
  BATCH=2; LARGE=(4); STAGE_LIMIT=300
  COMPILE=0
  MERGED=dryrun_dcgan64.json
  export JAX_PLATFORMS=cpu
else
  MODEL=(--model dcgan64 --steps 20 --repeats 5 --scan_steps 10)
  BATCH=128; LARGE=(512 2048); STAGE_LIMIT=150
  COMPILE=1
  MERGED=gpu_dcgan64.json
fi
: > "$LOG"
log() { echo "[gpu_suite +$(( $(date +%s) - START ))s] $*" | tee -a "$LOG" >&2; }

# 1. install
if [[ $DRY_RUN == 1 ]]; then
  log "install (dry run: not run): pip install --no-deps -e ."
else
  shopt -s nullglob
  wheels=(benchmarks/wheels/*.whl)
  if (( ${#wheels[@]} )); then
    pip install -q --no-deps "${wheels[@]}" >>"$LOG" 2>&1 || log "installing the wheels failed"
  fi
  if ! python -m pip install -q --no-deps --no-build-isolation -e . >>"$LOG" 2>&1; then
    log "pip install --no-deps -e . failed (see $LOG); running from the checkout"
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  fi
fi
python -c "import jaxgan.bench.throughput" 2>>"$LOG" || {
  log "error: jaxgan's benchmark does not import (see $LOG)"; exit 1; }

# 2. the machine
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null \
    || echo "no nvidia-smi"
  python -c "import jax; print('jax', jax.__version__, jax.devices())"
  echo "XLA_FLAGS=${XLA_FLAGS:-}"; } >>"$LOG" 2>&1
log "machine recorded"

# 3-6. one jaxgan-bench run per stage
FAILED=()
stage() {  # stage NAME ARGS...: one benchmark run, its JSON under $PARTS
  local name=$1; shift
  local left=$(( BUDGET_S - ($(date +%s) - START) ))
  if (( left < 30 )); then
    log "$name: skipped, the ${BUDGET_S}s budget is spent"; FAILED+=("$name (skipped)"); return
  fi
  local limit=$(( left < STAGE_LIMIT ? left : STAGE_LIMIT ))
  log "$name: jaxgan-bench $* (at most ${limit}s)"
  if timeout -k 10 "$limit" python -m jaxgan.bench.throughput "${MODEL[@]}" "$@" \
      --json "$PARTS/$name.json" >>"$LOG" 2>&1; then
    log "$name: done"
  else
    log "$name: FAILED (exit $?; see $LOG)"; FAILED+=("$name")
  fi
}
EAGER=jax,torch/eager_example,torch/eager_tuned
stage b${BATCH}_float32 --batch_size "$BATCH" --frameworks "$EAGER"
stage b${BATCH}_bfloat16 --batch_size "$BATCH" --compute_dtype bfloat16 --frameworks "$EAGER"
stage b${BATCH}_float32_conv --batch_size "$BATCH" --conv_impl conv --frameworks jax
if [[ $COMPILE == 1 ]]; then
  for dtype in float32 bfloat16; do
    stage "b${BATCH}_${dtype}_compile" --batch_size "$BATCH" --compute_dtype "$dtype" \
      --frameworks torch/compile
  done
fi
for batch in "${LARGE[@]}"; do
  for dtype in float32 bfloat16; do
    stage "b${batch}_${dtype}" --batch_size "$batch" --compute_dtype "$dtype" --frameworks jax/scan
  done
done

# The merged record, and a summary line per result.
python - "$PARTS" "$OUT_DIR/$MERGED" "${FAILED[@]+"${FAILED[@]}"}" <<'PY' 2>&1 | tee -a "$LOG"
import json, os, sys
parts, target, failed = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = {}
for name in sorted(os.listdir(parts)):
    with open(os.path.join(parts, name)) as f:
        runs[name[:-len(".json")]] = json.load(f)
machine = next(iter(runs.values()))["machine"] if runs else {}
with open(target, "w") as f:
    json.dump({"machine": machine, "runs": runs, "failed": failed}, f, indent=1)
for name, report in runs.items():
    for r in report["results"]:
        mfu = f", MFU {r['mfu']:.1%}" if r.get("mfu") else ""
        print(f"{name:>22} {r['framework']}/{r['variant']:<14} {r['ms_per_step']:9.2f} ms/step "
              f"{r['images_per_sec']:9.0f} images/s{mfu}")
print(f"wrote {target}; failed stages: {', '.join(failed) or 'none'}")
PY
log "finished"
[[ ${#FAILED[@]} == 0 ]]
