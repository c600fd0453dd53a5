# SPDX-License-Identifier: GPL-2.0
#
# Shared by the harness scripts (sourced, not run): the paths, and a runner
# that keeps a command's noise in a log under build/logs, shows progress
# while it runs, and on failure prints the log's path and its tail.

PHYR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
PHYR_TOOLS=$PHYR_ROOT/tools/testing/phyr
PHYR_TREE=$PHYR_ROOT/build/linux
PHYR_LOGS=$PHYR_ROOT/build/logs
PHYR_KUNIT=$PHYR_TREE/tools/testing/kunit/kunit.py
mkdir -p "$PHYR_LOGS"

# Seconds as "1m05s".
phyr_dur() {
	printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# phyr_run LOG CMD... - run CMD with stdout and stderr in LOG (and, if
# PHYR_SHOW is set, on the terminal too, indented). Every minute, print the
# elapsed time and, if PHYR_PROGRESS is set, the output of that command (say,
# a count of built objects). On failure, print the log's path and, unless
# PHYR_NO_TAIL or PHYR_SHOW is set, its last lines. Returns CMD's status.
phyr_run() {
	local log=$1 start=$SECONDS rc ticker
	shift
	(
		t0=$(date +%s) next=60
		while :; do
			sleep 2 >/dev/null 2>&1
			el=$(($(date +%s) - t0))
			[ $el -ge $next ] || continue
			next=$((next + 60))
			extra=
			[ -n "${PHYR_PROGRESS:-}" ] &&
				extra="; $(eval "$PHYR_PROGRESS" 2>/dev/null)"
			echo "      ... $(phyr_dur $el) so far$extra"
		done
	) &
	ticker=$!
	if [ -n "${PHYR_SHOW:-}" ]; then
		"$@" 2>&1 | tee "$log" | sed -u 's/^/      /'
		rc=${PIPESTATUS[0]}
	else
		"$@" >"$log" 2>&1
		rc=$?
	fi
	kill "$ticker" 2>/dev/null
	wait "$ticker" 2>/dev/null
	if [ "$rc" != 0 ]; then
		echo "      FAILED (exit $rc) after $(phyr_dur $((SECONDS - start))); log: ${log#"$PHYR_ROOT"/}"
		[ -n "${PHYR_NO_TAIL:-}${PHYR_SHOW:-}" ] ||
			tail -n 25 "$log" | sed 's/^/      | /'
	fi
	return "$rc"
}

# phyr_tcg CMD... - run CMD (QEMU, or kunit.py running QEMU) with /dev/kvm
# hidden, so that QEMU falls back to TCG. kunit.py asks for "-accel kvm"
# first; on a machine whose /dev/kvm opens but cannot run the rig's
# "-cpu EPYC" guest (no SVM on the host), QEMU would hang silently. The
# rig is designed for TCG (its guest's own KVM runs on emulated SVM).
phyr_tcg() {
	if [ -e /dev/kvm ] && [ "$(id -u)" = 0 ]; then
		unshare --mount --propagation private \
			sh -c 'mount --bind /dev/null /dev/kvm && exec "$@"' sh "$@"
	else
		"$@"
	fi
}
