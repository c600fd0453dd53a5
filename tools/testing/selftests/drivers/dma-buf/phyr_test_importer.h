/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Talking to the in-kernel dma-buf phyr test importer
 * (CONFIG_DMABUF_PHYR_TEST_IMPORTER, drivers/dma-buf/dma-buf-phyr-test-importer.c)
 * from a selftest: one command per write() of its debugfs ctl file, a read
 * gives the status line and the last command's report.
 */
#ifndef PHYR_TEST_IMPORTER_H
#define PHYR_TEST_IMPORTER_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define IMPORTER	"/sys/kernel/debug/dma_buf_phyr_importer/ctl"
#define NO_IMPORTER	"no " IMPORTER " (CONFIG_DMABUF_PHYR_TEST_IMPORTER, debugfs)"
#define REPORT_LEN	4096

/* Send one command to the importer: 0 or -errno. */
static int ti_cmd(int ctl, const char *fmt, ...)
{
	char cmd[128];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return write(ctl, cmd, len) == len ? 0 : -errno;
}

/* The importer's status line and last report, NUL-terminated. */
static const char *ti_report(int ctl)
{
	static char buf[REPORT_LEN];
	ssize_t n = pread(ctl, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/*
 * The lines of @text on stdout, "# PROG: TAG: line" each, for the log and
 * tools/testing/phyr/report.sh.
 */
static void ti_note_lines(const char *prog, const char *tag, const char *text)
{
	const char *p = text, *nl;

	for (; *p; p = nl + 1) {
		nl = strchrnul(p, '\n');
		printf("# %s: %s: %.*s\n", prog, tag, (int)(nl - p), p);
		if (!*nl)
			break;
	}
	fflush(stdout);
}

#endif /* PHYR_TEST_IMPORTER_H */
