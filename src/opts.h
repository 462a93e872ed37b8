/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command-line options: one struct env, parsed and validated once, then frozen. */
#ifndef __KLEAK_OPTS_H
#define __KLEAK_OPTS_H

#include <regex.h>
#include <stdbool.h>
#include <linux/types.h>

/* argp's usage status, as in sysexits.h */
#define EXIT_USAGE 64

enum kleak_cmd {
	CMD_TRACE,
	CMD_REPORT,
	CMD_DIFF,
	CMD_FEATURES,
};

/* --stack-cache */
enum stack_cache_mode {
	STACK_CACHE_ON,
	STACK_CACHE_OFF,
	STACK_CACHE_CHECK,	/* walk anyway; count templates that name another stack */
};

/* --format: text and json for every command, the others for reports and diffs */
enum out_format {
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_FOLDED,
	FORMAT_PPROF,
	FORMAT_SVG,
};

/* --value: what folded stacks weigh */
enum out_value {
	VALUE_BYTES,
	VALUE_COUNT,
};

/* --ustack */
enum ustack_mode {
	USTACK_OFF,
	USTACK_FP,	/* frame pointers, walked in BPF with build IDs */
	USTACK_DWARF,	/* registers and stack copied, unwound in userspace from .eh_frame */
};

struct env {
	enum kleak_cmd cmd;
	bool verbose;
	bool json;		/* format == FORMAT_JSON */
	enum out_format format;
	enum out_value value;
	const char *output_path;	/* --output FILE, NULL: stdout */
	bool no_caches;

	/* what to trace */
	const char *comm;
	__u32 pid;
	bool follow;
	const char *cgroup;
	const char *cache;
	__u64 min_size;
	__u64 max_size;
	__u32 sample_rate;
	char **command;		/* -- CMD ARGS..., NULL-terminated */
	/* allocators traced beside slab: --pages[=all], --vmalloc, --percpu, --all-allocators */
	bool pages;
	bool pages_user;	/* --pages=all: pages for user mappings and the page cache too */
	bool vmalloc;
	bool percpu;
	bool all_allocators;	/* an allocator the kernel lacks is then a warning, not an error */

	/* how long, and how often to report */
	__u64 interval_s;
	__u64 count;		/* 0: until stopped */
	__u64 duration_s;	/* 0: until stopped */
	__u64 linger_s;
	bool trace;

	/* what the report shows */
	__u64 older_ms;
	__u64 top;		/* 0: all */
	/*
	 * Given on the command line: kleak report takes a saved run's own
	 * --older, --top and per-cache summary only where these are false.
	 */
	bool older_set;
	bool top_set;
	bool caches_set;
	__s64 min_delta;
	const char *exclude;	/* --exclude, compiled into exclude_re */
	const char *held_by;	/* --held-by CLASS, NULL: every class */
	int held_class;		/* its enum model_held */
	regex_t exclude_re;

	/* sizing and kernel access */
	__u64 max_allocs;
	__u64 max_sites;
	__u64 stack_entries;
	__u32 stack_depth;
	enum stack_cache_mode stack_cache;
	enum ustack_mode ustack;
	__u32 ustack_depth;
	const char *btf_path;

	/* saved runs */
	const char *write_path;
	const char *metrics_path;	/* --metrics: Prometheus text format */
	bool raw_addresses;	/* runs and outputs keep raw kernel addresses (they defeat KASLR) */
	unsigned int file_mode;	/* --file-mode: of every file written (default 0600) */
	bool file_mode_set;
	const char *files[2];

	/* the command line, quoted as a shell takes it, for the run's metadata */
	char *cmdline;
};

/*
 * Parses argv into env. Bad input prints one "kleak: ..." line and exits
 * with EXIT_USAGE from inside argp, or returns -EINVAL after printing it for
 * cross-option checks. Returns 0 on success.
 */
int opts__parse(int argc, char **argv, struct env *env);
void opts__free(struct env *env);

/* A one-line description of the active filters, for report headers. */
char *opts__filters_str(const struct env *env);

/*
 * argv joined by single spaces, each argument quoted as a POSIX shell needs
 * it to read the argument back unchanged: in single quotes where it holds
 * anything but letters, digits and @%+=:,./-_ (or is empty), an embedded
 * single quote written '\''. Returns a malloc'd string, or NULL with errno
 * set.
 */
char *opts__join_args(int argc, char *const argv[]);

#endif /* __KLEAK_OPTS_H */
