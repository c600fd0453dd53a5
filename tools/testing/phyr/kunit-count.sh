#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit-count.sh LOG LABEL - turn the KTAP results in a console log into one
# line per KUnit test case: "PASS|FAIL|SKIP LABEL suite.case[.param]".
# Parsing is kunit.py's own (kunit.py parse --json on the saved log), so a
# crashed kernel's missing cases come out as FAIL. A log that holds no
# results, or that the parser rejects without naming a failed case, gives a
# FAIL line for LABEL itself: a stage that could not run is never zero tests.
# Exit 0 when no FAIL line was printed.

set -uo pipefail
. "$(dirname "$0")/lib.sh"

log=$(realpath -m "$1") label=$2	# kunit.py runs from the kernel tree
if [ ! -s "$log" ]; then
	echo "FAIL $label: no console log ($log)"
	exit 1
fi
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$PHYR_KUNIT" parse --json="$json" "$log" >"$json.txt" 2>&1
parse_rc=$?
mv "$json.txt" "${log%.log}.parsed"

python3 - "$json" "$label" "$parse_rc" <<'EOF'
import json, sys

path, label, parse_rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    with open(path) as f:
        top = json.load(f)
except (OSError, ValueError) as e:
    print(f"FAIL {label}: kunit.py parse gave no results ({e})")
    sys.exit(1)

counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}

def walk(group, prefix):
    for sub in group.get("sub_groups", []):
        walk(sub, prefix + [sub["name"] or "<unnamed>"])
    for case in group.get("test_cases", []):
        # kunit_json maps crashed to ERROR and everything unknown to FAIL.
        status = {"PASS": "PASS", "SKIP": "SKIP"}.get(case["status"], "FAIL")
        name = ".".join(prefix + [case["name"] or "<missing: kernel crashed?>"])
        print(f"{status} {label}: {name}")
        counts[status] += 1

walk(top, [])
total = sum(counts.values())
if total == 0:
    print(f"FAIL {label}: no test results in the log")
    sys.exit(1)
# kunit.py parse fails on crashes and failures (each seen above as a FAIL
# case) and on an all-skipped run; anything else is a parse problem.
if parse_rc and not counts["FAIL"] and not (counts["SKIP"] and not counts["PASS"]):
    print(f"FAIL {label}: kunit.py parse exited {parse_rc}")
    sys.exit(1)
sys.exit(1 if counts["FAIL"] else 0)
EOF
