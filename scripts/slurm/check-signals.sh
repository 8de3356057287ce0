#!/usr/bin/env bash
# Checks sweep.sbatch's signal handling without Slurm: a stand-in for landscape that stops 1.5 s
# after its first signal and exits 75 (or has no handler, or exits at once), a stand-in scontrol
# that only logs, and signals sent to the script while the stand-in runs. Each case names the
# signals, the expected exit status and whether the script must requeue. Takes about 17 s.
set -uo pipefail
sbatch_script="$(cd "$(dirname "$0")" && pwd)/sweep.sbatch"
work="$(mktemp -d "${TMPDIR:-/tmp}/landscape-sbatch-signals.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
cat > "$work/landscape" << 'FAKE'
#!/usr/bin/env bash
case "$MODE" in
    exit*) sleep 1; exit "${MODE#exit}" ;;
    nohandler) sleep 5; exit 0 ;;
esac
stop=""
for s in USR1 TERM; do trap "[ -n \"\$stop\" ] || stop=1" $s; done
while [ -z "$stop" ]; do sleep 0.1 & wait $!; done
for _ in $(seq 15); do sleep 0.1 & wait $!; done
exit 75
FAKE
printf '#!/bin/sh\necho "scontrol $*"\n' > "$work/bin/scontrol"
chmod +x "$work/landscape" "$work/bin/scontrol"

failed=0
# check NAME MODE EXPECTED_RC REQUEUE(yes/no) SIGNALS...: the signals 0.5 s in, 0.4 s apart.
check() {
    local name=$1 mode=$2 want=$3 requeue=$4 rc got=no
    shift 4
    MODE=$mode LANDSCAPE="$work/landscape" PATH="$work/bin:$PATH" SLURM_ARRAY_JOB_ID=7 SLURM_ARRAY_TASK_ID=3 SLURM_JOB_ID=9 \
        bash "$sbatch_script" manifest.jsonl > "$work/$name.out" 2>&1 &
    local pid=$!
    sleep 0.5
    for s in "$@"; do kill -s "$s" "$pid" 2> /dev/null; sleep 0.4; done
    wait "$pid"
    rc=$?
    grep -q "^scontrol requeue 7_3$" "$work/$name.out" && got=yes
    if [ "$rc" = "$want" ] && [ "$got" = "$requeue" ]; then
        echo "check-signals: ok: $name: exit $rc, requeue $got"
    else
        echo "check-signals: FAILED: $name: exit $rc (want $want), requeue $got (want $requeue); output:" >&2
        sed 's/^/    /' "$work/$name.out" >&2
        failed=1
    fi
}
check "no signal, finished" exit0 0 no
check "no signal, error" exit1 1 no
check "75 of landscape's own (a busy directory)" exit75 75 yes
check "USR1 (time limit)" handler 75 yes USR1
check "two USR1s" handler 75 yes USR1 USR1
check "USR1, then the time limit's TERM" handler 75 yes USR1 TERM
check "TERM (scontrol requeue, scancel)" handler 75 no TERM
check "two TERMs" handler 75 no TERM TERM
check "USR1 before landscape's handler" nohandler 75 yes USR1
check "TERM before landscape's handler" nohandler 143 no TERM
exit $failed
