#!/usr/bin/env python3
"""Checks scripts/k8s/sweep-job.yaml without a cluster (Kubernetes' own validation rules for an
Indexed Job with a pod failure policy, and its agreement with `landscape sweep run`).

usage: check-job.py [JOB.yaml] [--landscape BINARY]

With --landscape, each exit code the policy acts on is looked up in the "Exit status:" table of
`landscape sweep run --help`, and its row must give the reason for the action (64 and 78: "do not
retry" for FailIndex; 75: interrupted, resumable, requeue for Ignore). Exits 1 naming every
problem found.
"""
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("check-job.py: needs PyYAML (apt-get install python3-yaml)")

# What the policy must do with each exit code of `landscape sweep run` (sweep-common.md;
# README): 64 and 78 will fail again on a retry, 75 means "interrupted, resumable: requeue me".
EXPECTED_ACTIONS = {64: "FailIndex", 75: "Ignore", 78: "FailIndex"}
# What `landscape sweep run --help` must say about each of them in its exit status table (words of
# its row, lower case): the reason for the action above.
EXPECTED_MEANINGS = {64: ("do not retry",), 75: ("interrupted", "resumable", "requeue"), 78: ("do not retry",)}
# Kubernetes' validation of podFailurePolicy (k8s.io/kubernetes pkg/apis/batch/validation).
ACTIONS = {"FailJob", "FailIndex", "Ignore", "Count"}


def main(argv):
    args = list(argv)
    binary = None
    if "--landscape" in args:
        i = args.index("--landscape")
        binary = args[i + 1]
        del args[i : i + 2]
    path = args[0] if args else os.path.join(os.path.dirname(__file__), "sweep-job.yaml")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    problems = []

    def need(ok, message):
        if not ok:
            problems.append(message)

    jobs = [d for d in docs if d.get("kind") == "Job"]
    claims = {d["metadata"]["name"] for d in docs if d.get("kind") == "PersistentVolumeClaim"}
    need(len(jobs) == 1, f"expected one Job, found {len(jobs)}")
    if not jobs:
        return report(path, problems)
    job = jobs[0]
    need(job.get("apiVersion") == "batch/v1", "the Job's apiVersion must be batch/v1")
    spec = job["spec"]
    need(spec.get("completionMode") == "Indexed", "completionMode must be Indexed (JOB_COMPLETION_INDEX)")
    completions = spec.get("completions")
    need(isinstance(completions, int) and completions >= 1, "completions must be a positive integer")
    need(isinstance(spec.get("parallelism"), int) and spec["parallelism"] >= 1, "parallelism must be a positive integer")
    per_index = spec.get("backoffLimitPerIndex")
    need(isinstance(per_index, int) and per_index >= 0, "backoffLimitPerIndex must be a non-negative integer")
    deadline = spec.get("activeDeadlineSeconds")
    need(isinstance(deadline, int) and deadline > 0,
         "activeDeadlineSeconds must be a positive integer: the Ignored exit 75 and disruptions retry without limit otherwise")
    max_failed = spec.get("maxFailedIndexes")
    if max_failed is not None:
        need(per_index is not None, "maxFailedIndexes needs backoffLimitPerIndex")
        need(isinstance(max_failed, int) and 0 <= max_failed <= (completions or 0), "maxFailedIndexes must be in 0...completions")

    pod = spec["template"]["spec"]
    need(pod.get("restartPolicy") == "Never", "podFailurePolicy and backoffLimitPerIndex need restartPolicy: Never")
    containers = {c["name"]: c for c in pod.get("containers", [])}
    grace = pod.get("terminationGracePeriodSeconds", 30)
    need(isinstance(grace, int) and grace >= 60, "terminationGracePeriodSeconds must leave time to finish a step (>= 60)")

    actions = {}
    for n, rule in enumerate(spec.get("podFailurePolicy", {}).get("rules", [])):
        where = f"podFailurePolicy.rules[{n}]"
        need(rule.get("action") in ACTIONS, f"{where}: unknown action {rule.get('action')!r}")
        need(("onExitCodes" in rule) != ("onPodConditions" in rule), f"{where}: exactly one of onExitCodes and onPodConditions")
        if rule.get("action") == "FailIndex":
            need(per_index is not None, f"{where}: FailIndex needs backoffLimitPerIndex")
        codes = rule.get("onExitCodes")
        if codes:
            name = codes.get("containerName")
            need(name is None or name in containers, f"{where}: no container named {name!r}")
            need(codes.get("operator") in ("In", "NotIn"), f"{where}: operator must be In or NotIn")
            values = codes.get("values", [])
            need(1 <= len(values) <= 255, f"{where}: 1 to 255 exit codes")
            need(all(isinstance(v, int) for v in values), f"{where}: exit codes must be integers")
            need(values == sorted(set(values)), f"{where}: exit codes must be unique and ascending")
            need(not (codes.get("operator") == "In" and 0 in values), f"{where}: 0 is not allowed with In")
            if codes.get("operator") == "In":
                for v in values:
                    # The first matching rule wins.
                    actions.setdefault(v, rule["action"])
        for pattern in rule.get("onPodConditions", []):
            need("type" in pattern, f"{where}: a pod condition pattern needs a type")
    need(any(p.get("type") == "DisruptionTarget" and r.get("action") == "Ignore"
             for r in spec.get("podFailurePolicy", {}).get("rules", [])
             for p in r.get("onPodConditions", [])),
         "a pod disrupted by Kubernetes (DisruptionTarget) should be Ignored")
    for code, action in EXPECTED_ACTIONS.items():
        need(actions.get(code) == action, f"exit code {code} must lead to {action}, not {actions.get(code)}")

    # The container: `landscape sweep run MANIFEST` with the manifest on a mounted volume, its
    # threads following its CPU limit.
    need(len(containers) == 1, "one container")
    for name, c in containers.items():
        command = c.get("command", []) + c.get("args", [])
        need(command[:3] == ["landscape", "sweep", "run"] and len(command) >= 4,
             f"container {name}: the command must be landscape sweep run MANIFEST")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        if len(command) >= 4:
            need(any(command[3].startswith(m.rstrip("/") + "/") for m in mounts),
                 f"container {name}: the manifest {command[3]} is not on a mounted volume")
        need("--task" not in command, f"container {name}: the index comes from JOB_COMPLETION_INDEX, not --task")
        resources = c.get("resources", {})
        cpu = resources.get("limits", {}).get("cpu")
        need(cpu is not None and cpu == resources.get("requests", {}).get("cpu"),
             f"container {name}: CPU requests and limits must be equal (one CPU set per task)")
        env = {e["name"]: e for e in c.get("env", [])}
        for var in ("OPENBLAS_NUM_THREADS", "LANDSCAPE_THREADS"):
            e = env.get(var)
            ref = (e or {}).get("valueFrom", {}).get("resourceFieldRef", {})
            need(e is not None and (ref.get("resource") == "limits.cpu" or e.get("value") == str(cpu)),
                 f"container {name}: {var} must follow the CPU limit")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for mount, volume in mounts.items():
            need(volume in volumes, f"container {name}: no volume {volume!r}")
            claim = volumes.get(volume, {}).get("persistentVolumeClaim", {}).get("claimName")
            if claim is not None and claims:
                need(claim in claims, f"volume {volume}: no PersistentVolumeClaim {claim!r} in {path}")

    if binary:
        out = subprocess.run([binary, "sweep", "run", "--help"], capture_output=True, text=True)
        rows = exit_status_rows(out.stdout + out.stderr)
        need(rows, f"`{binary} sweep run --help` has no 'Exit status:' table")
        for code, words in EXPECTED_MEANINGS.items():
            meaning = rows.get(code)
            if meaning is None:
                need(not rows, f"`{binary} sweep run --help` does not document exit code {code}")
                continue
            missing = [w for w in words if w not in meaning.lower()]
            need(not missing, f"exit code {code} leads to {EXPECTED_ACTIONS[code]} here, but `sweep run --help` says "
                              f"{meaning!r} (without {', '.join(map(repr, missing))})")
    return report(path, problems)


def exit_status_rows(text):
    """The rows of the 'Exit status:' table of a --help text: {code: meaning}. A row is a line
    "  CODE  MEANING"; unindented or deeper-indented lines after it continue its meaning (the
    argument parser wraps long lines at column 0); the table ends at a blank line."""
    rows, code, inside = {}, None, False
    for line in text.splitlines():
        if line.strip() == "Exit status:":
            inside = True
            continue
        if not inside:
            continue
        if not line.strip():
            if rows:
                break
            continue
        m = re.match(r"^\s{1,4}(\d{1,3})\s+(\S.*)$", line)
        if m:
            code = int(m.group(1))
            rows[code] = m.group(2).strip()
        elif code is not None:
            rows[code] += " " + line.strip()
    return rows


def report(path, problems):
    for p in problems:
        print(f"check-job.py: {path}: {p}", file=sys.stderr)
    if not problems:
        print(f"check-job.py: {path}: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
