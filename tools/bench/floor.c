// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-floor [--pages]: load floor.bpf.c, attach its four empty programs (and
 * the three page events' with --pages), say so with
 * one stderr line ("floor: attached") and hold them until SIGINT or SIGTERM.
 * tools/bench/run.sh waits for that line before it starts a workload.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

static void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void pr_err(const char *fmt, ...)
{
	va_list ap;

	fputs("floor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* libbpf's warnings explain a failed load; its debug chatter would not. */
static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	struct floor_bpf *skel = NULL;
	bool pages = argc == 2 && !strcmp(argv[1], "--pages");
	sigset_t set;
	int err, sig;

	if (argc != 1 && !pages) {
		pr_err("takes no arguments but --pages");
		return 64;
	}
	libbpf_set_print(libbpf_print_fn);

	/*
	 * Block the signals before attaching, so one sent right after the
	 * "attached" line is queued for sigwait() instead of killing us with
	 * the programs still attached to nothing but a dying process.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		err = -errno;
		pr_err("failed to block signals: %s", strerror(-err));
		goto cleanup;
	}

	skel = floor_bpf__open();
	if (!skel) {
		err = -errno;
		pr_err("failed to open floor.bpf.o: %s", strerror(-err));
		goto cleanup;
	}
	bpf_program__set_autoload(skel->progs.mm_page_alloc_floor, pages);
	bpf_program__set_autoload(skel->progs.mm_page_free_floor, pages);
	bpf_program__set_autoload(skel->progs.mm_page_free_batched_floor, pages);
	err = floor_bpf__load(skel);
	if (err) {
		pr_err("failed to load floor.bpf.o: %s", strerror(-err));
		goto cleanup;
	}
	err = floor_bpf__attach(skel);
	if (err) {
		pr_err("failed to attach the tp_btf programs: %s", strerror(-err));
		goto cleanup;
	}
	fputs("floor: attached\n", stderr);

	err = sigwait(&set, &sig);
	if (err) {
		err = -err;
		pr_err("sigwait failed: %s", strerror(-err));
	}

cleanup:
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
