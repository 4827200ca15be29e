#!/usr/bin/env bash
# `make demo`: preflight against a real local FiLot-shaped stack, documents into out/.
# (--send-signed-callback is safe here: the sandbox backend is a stand-in; never a default in production.)
#   1. offline check of manifests/example.prod.env (the seed's T8-A situation: 3 missing secrets, Redis without TLS)
#   2. sandbox up; full live check against it (--phase all: before and after the deployment, since the sandbox
#      seeds moto with a healthy deployment); every document rendered from that run; `preflight smoke` (one
#      synthetic OCR job end to end, everything it created removed); sandbox down
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
SB=${SANDBOX_DIR:-.sandbox}
rm -rf "$OUT"; mkdir -p "$OUT/offline" "$OUT/live"

echo "== 1/2 offline: manifests/example.prod.env (what T8-A left behind)"
preflight check --offline --env-file manifests/example.prod.env --save "$OUT/offline/results.json"
echo "(exit $? — 1 means not ready, as expected for this file)"
preflight report --from "$OUT/offline/results.json" -o "$OUT/offline" >/dev/null

echo
echo "== 2/2 live: a real local stack (Redis TLS, Postgres SSL, Temporal, S3, moto, BULI2 + backend apps, workers)"
preflight sandbox up --dir "$SB" || exit 1
trap 'preflight sandbox down --dir "$SB"' EXIT
preflight check --phase all \
  --env-file "$SB/sandbox.env" --env-file "gpu-worker=$SB/gpu-worker.env" \
  --task-def "$SB/taskdefs/filot-backend.json" --task-def "$SB/taskdefs/filot-gpu-worker.json" \
  --source-dir backend=tests/fixtures/trees/clean/backend --source-dir gpu-worker=tests/fixtures/trees/clean/gpu-worker \
  --send-signed-callback --save "$OUT/live/results.json"
rc=$?
preflight report --from "$OUT/live/results.json" -o "$OUT/live" >/dev/null
echo
echo "== smoke: one synthetic OCR job through R2, the BullMQ queue and the GPU worker, then removed"
preflight smoke --env-file "$SB/sandbox.env" --save "$OUT/live/smoke.json"
smoke_rc=$?
[ "$rc" -eq 0 ] && rc=$smoke_rc
preflight diff "$OUT/offline/results.json" "$OUT/live/results.json" > "$OUT/diff.txt"

echo
echo "Documents written:"
echo "  $OUT/live/      from the live sandbox run (exit $rc): reports, checklist, summary, secrets map, env template,"
echo "                  smoke.json (each step of the synthetic OCR job and its latency)"
echo "  $OUT/offline/   from the offline example run"
echo "  $OUT/diff.txt   what changed between the two runs"
echo "Start with $OUT/live/T8A_summary.md and $OUT/offline/missing_required_secrets.txt"
exit $rc
