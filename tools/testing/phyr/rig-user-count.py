#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# rig-user-count.py LOG LABEL - turn the console of a rig-user.sh boot into
# one line per test case: "PASS|FAIL|SKIP LABEL: program: N name".
#
# rig-user-init frames each program's kselftest TAP output with
# "phyr-user: run NAME" and "phyr-user: exit NAME RC"; "ok N name",
# "not ok N name" and "ok N name # SKIP reason" are the cases (a SKIP line
# keeps the reason). A case the plan
# ("1..N") announces but that never reported counts as skipped when the
# program exited with KSFT_SKIP (4: it decided to skip the rest) and as
# failed otherwise; a program that never exited, a non-zero exit with no
# failed case, and a boot that never printed "phyr-user: done" are each one
# more failure. A program that prints no TAP at all (some of KVM's own
# selftests) is one case: passed on exit 0, skipped on KSFT_SKIP, failed
# otherwise. A log with no program at all is a failure too. Exit 1 when
# a FAIL line was printed.

import fnmatch
import os
import re
import sys

KSFT_SKIP = 4
# Console lines may carry a carriage return; kernel messages are
# "[    1.234567] ..." and never look like TAP.
RUN = re.compile(r'^phyr-user: run (\S+)')
EXIT = re.compile(r'^phyr-user: exit (\S+) (\d+)')
PLAN = re.compile(r'^1\.\.(\d+)\s*$')
# ksft_exit_skip() before any case: "1..0 # SKIP reason".
SKIPALL = re.compile(r'^1\.\.0\s*#\s*SKIP\s*(.*)$')
RESULT = re.compile(r'^(not )?ok (\d+) ?(.*?)(?:\s+#\s*(SKIP|TODO)\b\s*(.*))?$')


# rig-user.known: upstream cases that fail in this rig on the pristine 7.3.4
# tree too, for a reason of the rig (a feature it lacks). Lines
# "PROGRAM<TAB>CASE-PATTERN<TAB>why" (fnmatch pattern over the case's
# "N name"); such a failure is counted as a skip with that reason, any other
# failure stays one.
KNOWN = os.path.join(os.path.dirname(os.path.realpath(__file__)), 'rig-user.known')


def known_failures():
    known = []
    try:
        with open(KNOWN) as f:
            for line in f:
                if line.strip() and not line.startswith('#'):
                    prog, pat, why = line.rstrip('\n').split('\t', 2)
                    known.append((prog, pat, why))
    except OSError:
        pass
    return known


def main():
    log, label = sys.argv[1], sys.argv[2]
    known = known_failures()
    try:
        with open(log, errors='replace') as f:
            lines = [l.rstrip('\r\n').replace('\r', '') for l in f]
    except OSError as e:
        print(f'FAIL {label}: no console log ({e})')
        return 1

    out = []
    progs = []		# [name, plan, {n: (status, desc)}, rc, skip reason, last note]
    cur = None
    done = False
    for line in lines:
        m = RUN.match(line)
        if m:
            cur = [m.group(1), None, {}, None, '', '']
            progs.append(cur)
            continue
        m = EXIT.match(line)
        if m and cur and m.group(1) == cur[0]:
            cur[3] = int(m.group(2))
            cur = None
            continue
        if line.startswith('phyr-user: done'):
            done = True
            continue
        if cur is None:
            continue
        m = SKIPALL.match(line)
        if m:
            cur[4] = m.group(1).strip()
            continue
        if line.startswith('# '):
            # The program's last note: why it stopped, if it exits with
            # KSFT_SKIP before its plan's end.
            cur[5] = line[2:].strip()
        m = PLAN.match(line)
        if m and cur[1] is None:
            cur[1] = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m:
            n = int(m.group(2))
            if m.group(1):
                status = 'FAIL'
            elif m.group(4) == 'SKIP':
                status = 'SKIP'
            else:
                status = 'PASS'
            desc = m.group(3).strip()
            if status == 'SKIP':
                # The reason, so that every skip is listed with it.
                desc += f' # SKIP {m.group(5).strip() or "(no reason given)"}'
            cur[2][n] = (status, desc)

    for name, plan, res, rc, why, last in progs:
        nfail = nknown = 0
        for n in sorted(res):
            status, desc = res[n]
            why = [w for p, pat, w in known
                   if p == name and fnmatch.fnmatchcase(f'{n} {desc}', pat)]
            if status == 'FAIL' and why:
                status = 'SKIP'
                desc += f' # SKIP fails on pristine 7.3.4 too: {why[0]}'
                nknown += 1
            out.append(f'{status} {label}: {name}: {n} {desc}')
            nfail += status == 'FAIL'
        for n in range(1, (plan or 0) + 1):
            if n in res:
                continue
            if rc == KSFT_SKIP:
                out.append(f'SKIP {label}: {name}: {n} (not run) # SKIP the program exited with KSFT_SKIP after: {last or "(nothing)"}')
            else:
                out.append(f'FAIL {label}: {name}: {n} (no result; exit {rc})')
                nfail += 1
        if rc is None:
            out.append(f'FAIL {label}: {name}: did not exit (the boot ended inside it)')
        elif plan is None and not res:
            # A program that is not TAP (KVM's set_memory_region_test
            # prints its own lines): one case, judged by its exit status.
            if rc == 0:
                out.append(f'PASS {label}: {name}: (no TAP; exit 0)')
            elif rc == KSFT_SKIP:
                out.append(f'SKIP {label}: {name}: (no TAP; exit {rc}, KSFT_SKIP) # SKIP {why or "(no reason given)"}')
            else:
                out.append(f'FAIL {label}: {name}: printed no TAP plan nor result (exit {rc})')
        elif rc not in (0, KSFT_SKIP) and not nfail and not nknown:
            # (A known failure makes the program exit 1 as well.)
            out.append(f'FAIL {label}: {name}: exited {rc} with no failed case')
    if not progs:
        out.append(f'FAIL {label}: no test program ran (see {log})')
    elif not done:
        out.append(f'FAIL {label}: the boot did not reach the end ("phyr-user: done")')

    print('\n'.join(out))
    return 1 if any(l.startswith('FAIL ') for l in out) else 0


if __name__ == '__main__':
    sys.exit(main())
