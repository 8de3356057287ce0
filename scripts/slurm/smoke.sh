#!/usr/bin/env bash
# A real Slurm cluster in the tests: installs Debian's Slurm and munge (idempotent), starts a
# single-node cluster on this machine (munged, slurmctld and slurmd on localhost, everything under
# one temporary directory, private ports and munge socket, so it touches no system Slurm or munge),
# plans a small sweep (6 tiny MLP tasks on a subset of MNIST), submits it with the real
# scripts/slurm/sweep.sbatch as a job array, stops two running tasks after their first epoch
# (one with `scontrol requeue`, one with the USR1 that Slurm sends before the time limit), waits
# for every task, checks that both were stopped, requeued and resumed, that every task finished
# and that `sweep report` sees every task finished, then runs the same manifest here, task by
# task with the same 2 threads, into a second directory and checks that every task's results are
# identical (metrics.csv without its *_seconds columns, checkpoints.csv, every checkpoint's bytes).
#
# usage: scripts/slurm/smoke.sh [LANDSCAPE_BINARY]
#   The binary: the argument, else $LANDSCAPE, else .build/release/landscape, else
#   .build/debug/landscape (this script builds nothing). Needs root: slurmd runs the jobs.
#   SMOKE_KEEP=1 keeps the temporary directory; SMOKE_TIMEOUT (seconds, default 420) bounds it.
# Exits 0 when every check passed; 1 naming the failed check, or saying that the daemons could
# not be started (with their logs).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
started=$SECONDS
say() { echo "smoke [$((SECONDS - started))s]: $*"; }
fail() { echo "smoke [$((SECONDS - started))s]: FAILED: $*" >&2; exit 1; }

landscape="${1:-${LANDSCAPE:-}}"
if [ -z "$landscape" ]; then
    for candidate in "$repo/.build/release/landscape" "$repo/.build/debug/landscape"; do
        if [ -x "$candidate" ]; then landscape="$candidate"; break; fi
    done
fi
[ -n "$landscape" ] && [ -x "$landscape" ] \
    || fail "no landscape binary: pass its path, set LANDSCAPE or build it (swift build -c release --product landscape)"
landscape="$(cd "$(dirname "$landscape")" && pwd)/$(basename "$landscape")"
export LANDSCAPE="$landscape"
deadline=$((SECONDS + ${SMOKE_TIMEOUT:-420}))

if [ "$(id -u)" -ne 0 ]; then
    # slurmd starts the jobs as their users: it runs as root.
    command -v sudo > /dev/null && sudo -n true 2> /dev/null \
        && exec sudo -n --preserve-env=SMOKE_KEEP,SMOKE_TIMEOUT,TMPDIR bash "$0" "$landscape"
    fail "must run as root (slurmd starts the jobs), and sudo -n is not available"
fi

# 1. Debian's Slurm (22.05 on bookworm) and munge.
need=()
for tool in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${tool%%:*}" > /dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    # The packages' postinst scripts try to start the system daemons; where policy-rc.d forbids it
    # (containers) they say so and carry on. This cluster does not use them either way.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" > /dev/null
fi
say "$(slurmctld -V), $(munged -V 2>&1 | head -n 1)"

# 2. The cluster, under one temporary directory.
work="$(mktemp -d "${TMPDIR:-/tmp}/landscape-slurm-smoke.XXXXXX")"
chmod 755 "$work"  # munge's socket directory must be searchable by everyone
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/log" "$work/jobs"
daemons=()  # "name:pid" of the daemons this script started, in start order
cleanup() {
    local rc=$? entry name pid i
    set +e
    trap - EXIT INT TERM
    if [ ${#daemons[@]} -gt 0 ] && [ -n "${SLURM_CONF:-}" ]; then
        # Jobs outlive slurmd (their slurmstepd is detached from it): cancel them first.
        local jobs
        jobs="$(squeue -h -o %A 2> /dev/null)"
        if [ -n "$jobs" ]; then
            scancel $jobs 2> /dev/null
            for i in $(seq 40); do [ -z "$(squeue -h -o %A 2> /dev/null)" ] && break; sleep 0.5; done
        fi
    fi
    for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
        name="${daemons[i]%%:*}" pid="${daemons[i]#*:}"
        kill -TERM "$pid" 2> /dev/null
        for _ in $(seq 40); do kill -0 "$pid" 2> /dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2> /dev/null && { echo "smoke: $name (pid $pid) did not stop: killing it" >&2; kill -KILL "$pid" 2> /dev/null; }
        wait "$pid" 2> /dev/null
    done
    if [ "$rc" -ne 0 ]; then
        for f in "$work"/log/*.log "$work"/jobs/*.out; do
            [ -s "$f" ] && { echo "---- ${f#"$work"/} (last 25 lines)"; tail -n 25 "$f"; } >&2
        done
    fi
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then echo "smoke: kept $work" >&2; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port nobody listens on (bash connects to it; refused means free), other than the ports
# given as arguments (the ones already chosen).
free_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 30000))
        [[ " $* " == *" $port "* ]] && continue
        (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null || { echo "$port"; return; }
    done
    fail "no free TCP port found for Slurm"
}
cannot_start() {
    echo "smoke: cannot start the Slurm daemons on this machine: $*" >&2
    exit 1
}

dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
munged --foreground --force --key-file="$work/munge/munge.key" --socket="$socket" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" \
    > /dev/null 2>> "$work/log/munged.log" &
daemons+=("munged:$!")
for _ in $(seq 40); do [ -S "$socket" ] && break; sleep 0.25; done
munge -S "$socket" -n 2> /dev/null | unmunge -S "$socket" > /dev/null 2>&1 \
    || cannot_start "munged does not encode and decode credentials (log/munged.log)"

node="$(hostname -s)"
ctld_port="$(free_port)"
slurmd_port="$(free_port "$ctld_port")"
export SLURM_CONF="$work/slurm.conf"
cat > "$SLURM_CONF" << EOF
# One node (this host) with 2 CPUs; no cgroups, accounting or MPI. Root runs everything.
ClusterName=landscape-smoke
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
# SIGTERM, then SIGKILL this many seconds later: the time landscape has to stop cleanly.
KillWait=30
# Finished jobs stay visible to scontrol this long (there is no accounting database).
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=smoke Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -f "$SLURM_CONF" > "$work/log/slurmctld.log" 2>&1 &  # -D: the log goes to stderr
daemons+=("slurmctld:$!")
slurmd -D -f "$SLURM_CONF" > "$work/log/slurmd.log" 2>&1 &
daemons+=("slurmd:$!")
for i in $(seq 60); do
    for entry in "${daemons[@]}"; do
        kill -0 "${entry#*:}" 2> /dev/null || cannot_start "${entry%%:*} exited (logs below)"
    done
    state="$(sinfo -h -o %T 2> /dev/null || true)"
    [ "$state" = idle ] && break
    [ "$i" -eq 60 ] && cannot_start "the node is not idle after 30 s (sinfo: ${state:-no answer})"
    sleep 0.5
done
[ "$(srun --time=1 hostname 2> "$work/log/srun.log")" = "$(hostname)" ] \
    || cannot_start "srun hostname did not run on the node (log/srun.log)"
say "cluster up: node $node idle, srun works (slurm.conf: $SLURM_CONF)"

# 3. A sweep of 6 tiny tasks: batch 16 or 64 × learning rate 0.05 or 0.1 with seed 0, and two
# points with seed 1. The MNIST files: landscape fetch (a local copy if there is one, else a
# download), run from the repository so that its ../shared/data/mnist is found.
(cd "$repo" && "$landscape" fetch --data-directory "$work/mnist" > "$work/log/fetch.log" 2>&1) \
    || fail "landscape fetch could not get MNIST (log/fetch.log)"
epochs=3
cat > "$work/sweep.json" << EOF
{
  "training": {
    "data": {"dataDirectory": "$work/mnist", "trainLimit": 1024, "validation": 128, "testLimit": 256},
    "epochs": $epochs, "evaluationBatchSize": 256, "probes": {"probeSamples": 64}
  },
  "epochProbes": {"sharpnessDirections": 4, "traceProbes": 2},
  "axes": {"batchSize": [16, 64], "learningRate": [0.05, 0.1], "seed": [0]},
  "points": [{"batchSize": 16, "learningRate": 0.05, "seed": 1}, {"batchSize": 64, "learningRate": 0.1, "seed": 1}]
}
EOF
"$landscape" sweep plan "$work/sweep.json" --output-dir "$work/sweep" > "$work/log/plan.log" 2>&1 \
    || fail "landscape sweep plan failed (log/plan.log): $(tail -n 3 "$work/log/plan.log")"
manifest="$work/sweep/manifest.jsonl"
count=$(wc -l < "$manifest")
[ "$count" -eq 6 ] || fail "the manifest has $count tasks, not 6"
ids=()
while IFS= read -r line; do
    id="$(printf '%s\n' "$line" | grep -o '"id" *: *"[0-9a-f]*"' | grep -o '[0-9a-f]\{12\}')"
    [ -n "$id" ] || fail "no task id in a manifest line: ${line:0:120}"
    ids+=("$id")
done < "$manifest"
say "planned $count tasks: ${ids[*]}"

# 4. The array, with the real sweep.sbatch (2 CPUs per task: one task at a time on this node).
job="$(cd "$work" && sbatch --parsable --array=0-$((count - 1)) --output="$work/jobs/%A_%a.out" \
    "$repo/scripts/slurm/sweep.sbatch" "$manifest")" || fail "sbatch refused the array"
job="${job%%;*}"
say "submitted array job $job"
task_state() { squeue -h -j "${job}_$1" -o %T 2> /dev/null | head -n 1; }
epochs_done() { local f="$work/sweep/${ids[$1]}/metrics.csv"; [ -f "$f" ] && echo $(($(wc -l < "$f") - 1)) || echo 0; }

# 5. Stop two tasks after their first epoch, the two ways a running task is stopped early: one by
# `scontrol requeue` (SIGTERM to every process of the job; Slurm requeues it), the next as before
# its time limit (`--signal=B:USR1@120` sends USR1 to the batch script alone; here
# `scancel --batch --signal=USR1`), which sweep.sbatch forwards and then requeues the task itself.
# A task may finish its last epoch before the stop reaches it (a loaded machine): then the stop
# missed, and the next task is stopped instead.
after_first_epoch() {  # I: waits until task I is running with 1 <= epochs done < all; 1 if it finished first
    local i=$1 state done_epochs
    while :; do
        [ $SECONDS -lt $deadline ] || fail "task $i did not finish an epoch in time"
        state="$(task_state "$i")" done_epochs="$(epochs_done "$i")"
        [ "$done_epochs" -ge $epochs ] && return 1
        [ "$state" = RUNNING ] && [ "$done_epochs" -ge 1 ] && return 0
        [ -z "$state" ] && fail "task $i left the queue without finishing (job output below)"
        sleep 0.1
    done
}
# A requeued job is held for about two minutes (BeginTime) so that its old processes can end;
# once the task is pending again, let it start as soon as the node is free.
release_when_pending() {
    local i=$1
    for _ in $(seq 100); do [ "$(task_state "$i")" = PENDING ] && break; sleep 0.2; done
    [ "$(task_state "$i")" = PENDING ] || fail "task $i is $(task_state "$i"), not PENDING, after it was stopped: not requeued"
    scontrol update JobId="${job}_$i" StartTime=now || fail "scontrol update JobId=${job}_$i StartTime=now failed"
}
# How the first run of task I ended: "landscape exited N" (empty while it runs).
first_exit() { grep -m 1 -oE "landscape exited [0-9]+" "$work/jobs/${job}_$1.out" 2> /dev/null || true; }
next=0  # the first task not yet tried
# stop_one HOW: stops the next task that is still running after its first epoch (HOW: requeue or
# usr1) and prints its index.
stop_one() {
    local how=$1 i end
    for ((i = next; i < count; i++)); do
        after_first_epoch "$i" || { say "task $i finished before it could be stopped: trying the next task" >&2; continue; }
        local epochs_then
        epochs_then="$(epochs_done "$i")"
        if [ "$how" = requeue ]; then
            scontrol requeue "${job}_$i" >&2 || fail "scontrol requeue ${job}_$i failed"
        else
            # The script requeues the task while scancel waits for its answer, which is then "Job
            # can not be altered now, try again later", and scancel would retry for 100 s: stop
            # waiting for it (before the task is released, so that no retry reaches its next run);
            # the job's log shows the signal.
            timeout 5 scancel --batch --signal=USR1 "${job}_$i" 2> /dev/null || true
        fi
        end=""
        while [ -z "$end" ]; do
            [ $SECONDS -lt $deadline ] || fail "task $i's first run did not end after the stop ($how)"
            sleep 0.2
            end="$(first_exit "$i")"
        done
        if [ "$end" = "landscape exited 75" ]; then
            say "$how: task $i (${ids[i]}) stopped after $epochs_then of $epochs epochs" >&2
            next=$((i + 1))
            release_when_pending "$i" >&2
            echo "$i"
            return
        fi
        # Missed (the task had finished): a requeued finished task reruns and skips; let it.
        say "task $i finished (${end}) before the $how reached it: trying the next task" >&2
        [ "$(task_state "$i")" = PENDING ] && scontrol update JobId="${job}_$i" StartTime=now >&2
    done
    fail "every task finished before it could be stopped ($how): make the tasks longer"
}
requeued="$(stop_one requeue)"
next=$((requeued + 1))
signalled="$(stop_one usr1)"

# 6. Every task.
while [ -n "$(squeue -h -j "$job" -o %i 2> /dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || fail "the array did not finish in time: $(squeue -h -j "$job" -o '%i %T %r' | tr '\n' ';')"
    sleep 1
done
say "array job $job done"
for i in $(seq 0 $((count - 1))); do
    info="$(scontrol -o show job "${job}_$i")"
    [[ "$info" == *"JobState=COMPLETED"* && "$info" == *"ExitCode=0:0"* ]] \
        || fail "array task $i did not complete with exit code 0: $(grep -o 'JobState=[A-Z_]* .*ExitCode=[0-9:]*' <<< "$info" | cut -c1-200)"
done
r="$requeued" u="$signalled"
out_r="$work/jobs/${job}_$r.out" out_u="$work/jobs/${job}_$u.out"
grep -q "received SIGTERM" "$out_r" && grep -q "landscape exited 75" "$out_r" \
    || fail "task $r did not exit 75 (requeue me) on the SIGTERM of scontrol requeue ($out_r)"
grep -q "restart 1," "$out_r" || fail "task $r did not run again after scontrol requeue ($out_r)"
grep -q "received SIGUSR1" "$out_u" && grep -q "exited 75 (requeue me) after SIGUSR1: scontrol requeue ${job}_$u" "$out_u" \
    || fail "sweep.sbatch did not forward USR1 to task $u and requeue it on exit 75 ($out_u)"
grep -q "restart 1," "$out_u" || fail "task $u did not run again after sweep.sbatch requeued it ($out_u)"
say "tasks $r and $u were stopped (exit 75), requeued and resumed; all $count tasks completed with exit code 0"

# 7. Each task's status from its directory, and the report, which must see every task finished
# (its summary.md's first line: SweepReport.write).
for i in $(seq 0 $((count - 1))); do
    [ "$(epochs_done "$i")" -eq $epochs ] || fail "task $i (${ids[i]}) has $(epochs_done "$i") of $epochs epochs in metrics.csv"
    [ -e "$work/sweep/${ids[i]}/failed.txt" ] && fail "task $i (${ids[i]}) diverged: $(head -c 200 "$work/sweep/${ids[i]}/failed.txt")"
done
"$landscape" sweep report "$work/sweep" > "$work/log/report.log" 2>&1 \
    || fail "landscape sweep report failed (log/report.log): $(tail -n 5 "$work/log/report.log")"
expected="$count tasks: $count finished, 0 diverged, 0 partial, 0 missing."
grep -qxF "$expected" "$work/sweep/summary.md" \
    || fail "sweep report does not see every task finished: summary.md says \"$(grep -m 1 ' tasks: ' "$work/sweep/summary.md" 2> /dev/null)\", not \"$expected\""
say "sweep report: $expected"

# 8. The same manifest on this machine, into a second directory, with `sweep run --local`, one
# task at a time with the 2 threads of a Slurm task (--cpus-per-task=2), so that the comparison does
# not depend on this machine's cores.
mkdir "$work/local"
cp "$manifest" "$work/sweep/sweep.json" "$work/local/"
"$landscape" sweep run "$work/local/manifest.jsonl" --local --jobs 1 --threads 2 > "$work/log/local.log" 2>&1 \
    || fail "landscape sweep run --local failed (log/local.log): $(tail -n 5 "$work/log/local.log")"
say "local run done (2 threads per task)"

# metrics.csv without its timing (*_seconds) columns.
untimed() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = ($i !~ /_seconds$/) }
             { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line (line == "" ? "" : ",") $i; print line }' "$1"
}
for i in $(seq 0 $((count - 1))); do
    a="$work/sweep/${ids[i]}" b="$work/local/${ids[i]}"
    cmp -s <(untimed "$a/metrics.csv") <(untimed "$b/metrics.csv") \
        || fail "task $i (${ids[i]}): metrics.csv differs between the Slurm and the --local run: $(diff <(untimed "$a/metrics.csv") <(untimed "$b/metrics.csv") | head -n 4 | cut -c1-160 | tr '\n' ' ')"
    cmp -s "$a/checkpoints.csv" "$b/checkpoints.csv" || fail "task $i (${ids[i]}): checkpoints.csv differs"
    files_a="$(cd "$a" && ls ./*.safetensors)" files_b="$(cd "$b" && ls ./*.safetensors)"
    [ "$files_a" = "$files_b" ] || fail "task $i (${ids[i]}): different checkpoint files: $(echo $files_a) / $(echo $files_b)"
    for f in $files_a; do
        cmp -s "$a/$f" "$b/$f" || fail "task $i (${ids[i]}): $f differs between the Slurm and the --local run"
    done
done
say "PASSED: $count tasks identical between the Slurm array (tasks $r and $u stopped and requeued mid-run) and the local run"
