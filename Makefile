# SPDX-License-Identifier: GPL-2.0
#
# phyr: the harness. The logic is in tools/testing/phyr/; see `make help`.

T := tools/testing/phyr
# A kunit.py filter glob for `make uml` and `make rig`: FILTER='phyr.*merge*'
FILTER ?=
filter = $(if $(FILTER),'$(FILTER)')

.NOTPARALLEL:
.PHONY: all tree check check-full uml rig user static cross cocci report bench series mutants clean help

all:
	@$(T)/main.sh

tree:
	@$(T)/tree.sh

check:
	@$(T)/check.sh

# make check plus the semantic patches and the series' step builds.
check-full:
	@PHYR_CHECK_FULL=1 $(T)/check.sh

uml: tree
	@$(T)/kunit-uml.sh $(filter)

rig:
	@$(T)/kunit-rig.sh $(filter)

user: tree
	@$(T)/rig-user.sh

report:
	@$(T)/report.sh

static: tree
	@$(T)/static-checks.sh

cross: tree
	@$(T)/cross.sh

cocci: tree
	@$(T)/cocci-check.sh

bench:
	@$(T)/bench.sh

series:
	@$(T)/series.sh

mutants: tree
	@$(T)/mutants.py

clean:
	rm -rf build

help:
	@echo 'phyr harness (build output and logs in build/, logs in build/logs/)'
	@echo
	@echo '  make          the main job: prepare the tree, build the x86_64 kernel,'
	@echo '                boot the QEMU rig, run the phyr suites there, print the report'
	@echo '  make check    every test: UML KUnit, rig KUnit, console scan, static'
	@echo '                checks; ends with "N passed, N failed"; used by .ci/run'
	@echo '  make check-full  make check plus the semantic patches (make cocci) and'
	@echo '                the series check (git am onto 7.3.4, every patch built)'
	@echo '  make tree     install missing packages, prepare build/linux (base + patches/'
	@echo '                series + links to the new files); quick when nothing changed'
	@echo '  make uml      KUnit on UML only        (FILTER=glob to select cases)'
	@echo '  make rig      KUnit in the QEMU rig only (FILTER=glob to select cases)'
	@echo '  make user     the userspace selftests in the rig (initramfs boot;'
	@echo '                needs the rig kernel: make rig first); with'
	@echo '                PHYR_RIG_FAIL_NTH=1 also upstream'"'"'s iommufd_fail_nth (long)'
	@echo '  make report   the report of the last rig run'
	@echo '  make static   checkpatch, kernel-doc, Sphinx, sparse, W=1 on the project files'
	@echo '                (sparse and W=1 need the rig build: make rig first)'
	@echo '  make cross    the phyr objects built for arm64 and riscv64 (defconfig'
	@echo '                plus the phyr options), W=1 and sparse, in build/cross-*'
	@echo '  make cocci    the semantic patches: conversion, reports, samples run on UML'
	@echo '  make mutants  the mutation check: each listed break applied in turn, the'
	@echo '                suites that must catch it run (kernel builds and rig boots)'
	@echo '  make series   the work as a git format-patch series with a cover letter'
	@echo '                against the pinned 7.3.4 base, in build/series/out/'
	@echo '  make bench    phyr against scatterlist, on UML and in the rig (non-debug'
	@echo '                kernels in build/bench-*); tables in build/logs/bench.txt'
	@echo '  make clean    remove build/'
