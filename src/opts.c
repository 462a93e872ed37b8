// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The argp table, defaults and every validation of the command line. Nothing
 * outside this file looks at argv.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocators.h"
#include "kleak.h"
#include "log.h"
#include "model.h"
#include "opts.h"
#include "outfile.h"
#include "recost.h"

/*
 * kfree_rcu() batches drain after about 5 s here, and an RCU grace period
 * can take a few seconds under load: anything younger than 6 s may still be
 * on its way to being freed, so by default it is not called a leak.
 */
#define DEFAULT_OLDER_MS	6000
#define DEFAULT_LINGER_S	6
#define DEFAULT_TOP		10
#define DEFAULT_MAX_ALLOCS	(512 * 1024)
#define DEFAULT_MAX_SITES	(64 * 1024)
#define DEFAULT_STACK_ENTRIES	(32 * 1024)
#define DEFAULT_USTACK_DEPTH	32
#define DEFAULT_STACK_DEPTH	64

/* no argp_program_bug_address: kleak has no mail address; the help names the manual */
const char *argp_program_version = "kleak " KLEAK_VERSION;

/* Every line under 80 columns, so argp never wraps one. */
static const char trace_doc[] =
"Which kernel code paths hold slab memory that was allocated and not freed.\n"
"\n"
"USAGE: kleak [OPTION...] [INTERVAL [COUNT]] [-- COMMAND [ARG...]]\n"
"       kleak report [OPTION...] FILE          (see kleak report --help)\n"
"       kleak diff [OPTION...] FILE_A FILE_B   (see kleak diff --help)\n"
"       kleak features [--format json]\n"
"\n"
"Allocations are filtered (process, cgroup, comm, cache, size) when they are\n"
"made; frees are matched whoever does them. Under a task filter (-c, -p,\n"
"--cgroup, -- COMMAND), what a softirq or hardirq allocates while it\n"
"interrupts a filtered task is not the task's: it is left out, and counted.\n"
"-c and -p name the allocating task: a process's own task_struct, and what\n"
"else fork allocates for it (copy_process), is allocated by its parent, so\n"
"trace the parent, or run the command under kleak (-- COMMAND). Ctrl-C,\n"
"SIGTERM, the end of COUNT intervals or of --duration print the final\n"
"report; SIGUSR1 prints one now.\n"
"\n"
"EXAMPLES:\n"
"  kleak --duration 10              # one-shot: trace 10 s, print, exit\n"
"  kleak -c beegfs-ctl 5            # by beegfs-ctl, a report every 5 s\n"
"  kleak --cache task_struct -p 42  # the task_structs process 42 allocates\n"
"  kleak -w rdma.run -- beegfs-ctl --migrate ...  # a command and its children\n"
"  kleak diff tcp.run rdma.run      # which stacks hold more in one run\n"
"  kleak report --top 3 rdma.run    # print a saved run again\n"
"  kleak features                   # the kernel's BPF features, the programs\n"
"\v"
"Exit status: 0, 1 when kleak fails, 64 for a bad option. With -- COMMAND,\n"
"as env(1) and timeout(1): the command's status (128+N if signal N ended\n"
"it), 125 when kleak fails, 126 when COMMAND cannot run, 127 if not found.\n"
"The manual, kleak(8) (man 8 kleak), explains every option and the report.";

static const char report_doc[] =
"Print a saved run (kleak -w FILE) again, as it printed live: with the\n"
"--older, --top and per-cache summary it was printed with, unless options\n"
"given here say otherwise. Runs saved by kleak before format version 2 did\n"
"not keep them: there the defaults apply (--older 6, --top 10).\n"
"\n"
"EXAMPLES:\n"
"  kleak report rdma.run                     # as it printed live\n"
"  kleak report -o 0 -T 0 rdma.run           # every site, of any age\n"
"  kleak report --cache TCP --format json rdma.run"
"\v"
"Exit status: 0, 1 when the file cannot be read, 64 for a bad option.\n"
"The manual: kleak(8) (man 8 kleak).";

static const char diff_doc[] =
"Compare two saved runs (kleak -w FILE): outstanding objects and bytes per\n"
"allocation site and per cache, B minus A. Sites match by cache and by\n"
"their call stacks' function names, so runs of other boots and hosts\n"
"compare. Runs of different kernels also match stacks that differ only by\n"
"frames one kernel inlines or renames, marked \"similar\".\n"
"\n"
"EXAMPLES:\n"
"  kleak diff tcp.run rdma.run                # the 10 largest changes\n"
"  kleak diff -T 0 --min-delta 4096 a.run b.run"
"\v"
"Exit status: 0, 1 when a file cannot be read, 64 for a bad option.\n"
"The manual: kleak(8) (man 8 kleak).";

static const char features_doc[] =
"Print what the running kernel offers kleak, each probed feature, and the\n"
"program set kleak would load and what it gives up; attaches nothing.\n"
"\v"
"Exit status: 0, 1 when the kernel can load no program set.\n"
"The manual: kleak(8) (man 8 kleak).";

enum {
	OPT_CACHE = 1000,
	OPT_MAX_ALLOCS,
	OPT_MAX_SITES,
	OPT_STACK_ENTRIES,
	OPT_STACK_DEPTH,
	OPT_DURATION,
	OPT_LINGER,
	OPT_CGROUP,
	OPT_FOLLOW,
	OPT_BTF,
	OPT_FORMAT,
	OPT_MIN_DELTA,
	OPT_NO_CACHES,
	OPT_CACHES,
	OPT_USAGE,
	OPT_EXCLUDE,
	OPT_STACK_CACHE,
	OPT_METRICS,
	OPT_VALUE,
	OPT_USTACK,
	OPT_USTACK_DEPTH,
	OPT_PAGES,
	OPT_VMALLOC,
	OPT_PERCPU,
	OPT_ALL_ALLOCATORS,
	OPT_RAW_ADDRESSES,
	OPT_HELD_BY,
	OPT_FILE_MODE,
};

#define HELD_BY_DOC \
	"Only objects held as CLASS: live, zombie, reaped (task_struct); fd, no-fd (files, " \
	"sockets); mapped (files); orphan (sockets)"

/*
 * Every report and diff writes these; features writes text or json only.
 * output_doc: what --output does (live, each interval replaces the file).
 */
#define OUTPUT_OPTIONS(group, output_doc)						\
	{ "format", OPT_FORMAT, "FMT", 0,						\
	  "text (default), json, folded (stacks for flame\n"				\
	  "graphs), pprof (gzipped profile.proto) or svg (a\n"				\
	  "flame graph)", group },							\
	{ "output", 'O', "FILE", 0, output_doc, group },				\
	{ "value", OPT_VALUE, "WHAT", 0,						\
	  "What folded and svg stacks weigh: bytes\n"				\
	  "(default) or count (objects)", group },					\
	{ "file-mode", OPT_FILE_MODE, "MODE", 0,					\
	  "Create the files kleak writes with MODE (octal,\n"			\
	  "within 0644; default: 0600)", group }

/* ours, not argp's: ARGP_NO_HELP keeps argp's own --help from exiting */
#define HELP_OPTIONS									\
	{ "help", 'h', NULL, 0, "Give this help list", -1 },				\
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },		\
	{ "version", 'V', NULL, 0, "Print program version", -1 }

static const struct argp_option trace_options[] = {
	{ NULL, 0, NULL, 0, "What to trace (allocations only; frees always match):", 1 },
	{ "comm", 'c', "NAME", 0,
	  "Allocations by tasks named NAME: the kernel's\n"
	  "comm, at most 15 bytes (ps -o comm), not argv[0];\n"
	  "a process's own task_struct is its parent's", 1 },
	{ "pid", 'p', "PID", 0,
	  "Allocations by process PID and its threads;\n"
	  "its own task_struct is its parent's", 1 },
	{ "follow", OPT_FOLLOW, NULL, 0, "With --pid: also children forked after attach", 1 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Allocations by tasks in cgroup v2 PATH or below", 1 },
	{ "cache", OPT_CACHE, "NAME", 0,
	  "Objects of slab cache NAME (the alias of a merged\n"
	  "cache names that cache), or of another allocator\n"
	  "traced: pages, pages/order-N, vmalloc, percpu", 1 },
	{ "min-size", 'z', "BYTES", 0, "Objects of at least BYTES", 1 },
	{ "max-size", 'Z', "BYTES", 0, "Objects of at most BYTES", 1 },
	{ "sample-rate", 's', "N", 0,
	  "Record one allocation in N at random; counts are scaled estimates", 1 },
	{ "ustack", OPT_USTACK, "MODE", OPTION_ARG_OPTIONAL,
	  "The allocating thread's user stack becomes part of the site, shown under "
	  "the kernel frames; MODE fp (default: walked in BPF by each binary's call "
	  "frame information, with or without frame pointers) or dwarf (up to 8 KiB "
	  "of stack copied, unwound in kleak from .eh_frame)", 1 },
	{ "ustack-depth", OPT_USTACK_DEPTH, "N", 0,
	  "User frames kept per stack (default: 32, at most 64)", 1 },
	{ "pages", OPT_PAGES, "all", OPTION_ARG_OPTIONAL,
	  "Also the page allocator's blocks (2^order pages),\n"
	  "kernel pages only; =all: also pages for user\n"
	  "mappings and the page cache, as sites apart", 1 },
	{ "vmalloc", OPT_VMALLOC, NULL, 0, "Also vmap areas (vmalloc, vmap, ioremap)", 1 },
	{ "percpu", OPT_PERCPU, NULL, 0, "Also percpu allocations (all CPUs' copies)", 1 },
	{ "all-allocators", OPT_ALL_ALLOCATORS, NULL, 0,
	  "Slab, pages, vmalloc and percpu; those this\n"
	  "kernel has no events for are left out with a\n"
	  "warning", 1 },

	{ NULL, 0, NULL, 0, "When to report:", 2 },
	{ "duration", OPT_DURATION, "SEC", 0, "Stop after SEC seconds", 2 },
	{ "linger", OPT_LINGER, "SEC", 0,
	  "After COMMAND exits, wait SEC for deferred frees\n(default: 6)", 2 },
	{ "trace", 't', NULL, 0, "Print each recorded allocation and its free, live", 2 },
	{ "write", 'w', "FILE", 0, "Save the run in FILE, for kleak report and diff", 2 },
	{ "metrics", OPT_METRICS, "FILE", 0,
	  "Write Prometheus metrics to FILE at every report,\n"
	  "for node_exporter's textfile collector", 2 },
	{ "raw-addresses", OPT_RAW_ADDRESSES, NULL, 0,
	  "Keep each frame's raw kernel address in the -w\n"
	  "run and every output, which defeats KASLR\n"
	  "(default: symbols only)", 2 },

	{ NULL, 0, NULL, 0, "What the report shows:", 3 },
	{ "older", 'o', "SEC", 0,
	  "Only allocations at least SEC old\n(default: 6, at most INTERVAL; 0 with COMMAND)",
	  3 },
	{ "top", 'T', "N", 0, "The N sites holding most (default: 10; 0: all)", 3 },
	OUTPUT_OPTIONS(3, "Write the report to FILE (atomically; each\n"
			  "interval replaces it) instead of stdout"),
	{ "no-caches", OPT_NO_CACHES, NULL, 0, "Leave out the per-cache summary", 3 },
	{ "exclude", OPT_EXCLUDE, "REGEX", 0,
	  "Leave out sites with a frame matching REGEX (extended), e.g. known noise", 3 },
	{ "held-by", OPT_HELD_BY, "CLASS", 0, HELD_BY_DOC, 3 },

	{ NULL, 0, NULL, 0, "Sizing and kernel access:", 4 },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", 0,
	  "Outstanding allocations tracked (default: 524288)", 4 },
	{ "max-sites", OPT_MAX_SITES, "N", 0, "Distinct stack+cache sites (default: 65536)", 4 },
	{ "stack-entries", OPT_STACK_ENTRIES, "N", 0, "Stack map entries (default: 32768)", 4 },
	{ "stack-depth", OPT_STACK_DEPTH, "N", 0,
	  "Frames kept per stack (default: 64, at most 127)", 4 },
	{ "stack-cache", OPT_STACK_CACHE, "MODE", 0,
	  "on (default): skip the stack walk where the stack words of one walked "
	  "before (a template) still hold; off; check: walk anyway, count "
	  "templates that disagree", 4 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF, where /sys/kernel/btf/vmlinux is not (compat set)", 4 },
	{ "verbose", 'v', NULL, 0, "Print libbpf and sizing details", 4 },
	HELP_OPTIONS,
	{},
};

static const struct argp_option report_options[] = {
	{ NULL, 0, NULL, 0, "What the report shows (default: as the run printed it):", 1 },
	{ "older", 'o', "SEC", 0, "Only allocations at least SEC old", 1 },
	{ "top", 'T', "N", 0, "The N sites holding the most (0: all)", 1 },
	{ "cache", OPT_CACHE, "NAME", 0,
	  "Only sites in slab cache NAME, or of pages (any order), pages/order-N, vmalloc, percpu", 1 },
	{ "min-size", 'z', "BYTES", 0, "Only objects of at least BYTES", 1 },
	{ "max-size", 'Z', "BYTES", 0, "Only objects of at most BYTES", 1 },
	{ "exclude", OPT_EXCLUDE, "REGEX", 0,
	  "Leave out sites with a frame matching REGEX (extended), e.g. known noise", 1 },
	{ "held-by", OPT_HELD_BY, "CLASS", 0, HELD_BY_DOC, 1 },
	{ "caches", OPT_CACHES, NULL, 0, "Show the per-cache summary", 1 },
	{ "no-caches", OPT_NO_CACHES, NULL, 0, "Leave out the per-cache summary", 1 },
	OUTPUT_OPTIONS(1, "Write the report to FILE (atomically) instead of\nstdout"),
	{ "raw-addresses", OPT_RAW_ADDRESSES, NULL, 0,
	  "Keep each frame's raw kernel address, where the\n"
	  "run has them (-w --raw-addresses): defeats KASLR", 1 },
	{ "metrics", OPT_METRICS, "FILE", 0, "Also write the run as Prometheus metrics to FILE", 1 },
	{ "verbose", 'v', NULL, 0, "Print details", 1 },
	HELP_OPTIONS,
	{},
};

static const struct argp_option diff_options[] = {
	{ NULL, 0, NULL, 0, "What the comparison shows (each filter applies to both runs):", 1 },
	{ "top", 'T', "N", 0, "The N largest changes (default: 10; 0: all)", 1 },
	{ "min-delta", OPT_MIN_DELTA, "BYTES", 0, "Leave out changes smaller than BYTES", 1 },
	{ "older", 'o', "SEC", 0,
	  "Only allocations at least SEC old (default: every\noutstanding one)", 1 },
	{ "cache", OPT_CACHE, "NAME", 0,
	  "Only sites in slab cache NAME, or of pages (any order), pages/order-N, vmalloc, percpu", 1 },
	{ "min-size", 'z', "BYTES", 0, "Only objects of at least BYTES", 1 },
	{ "max-size", 'Z', "BYTES", 0, "Only objects of at most BYTES", 1 },
	{ "exclude", OPT_EXCLUDE, "REGEX", 0,
	  "Leave out sites with a frame matching REGEX (extended), e.g. known noise", 1 },
	{ "held-by", OPT_HELD_BY, "CLASS", 0, HELD_BY_DOC, 1 },
	{ "no-caches", OPT_NO_CACHES, NULL, 0, "Leave out the per-cache summary", 1 },
	OUTPUT_OPTIONS(1, "Write the comparison to FILE (atomically) instead\nof stdout"),
	{ "verbose", 'v', NULL, 0, "Print details", 1 },
	HELP_OPTIONS,
	{},
};

static const struct argp_option features_options[] = {
	{ "format", OPT_FORMAT, "FMT", 0, "text (default) or json", 1 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF, where /sys/kernel/btf/vmlinux is not (compat set)", 1 },
	{ "verbose", 'v', NULL, 0, "Print what the probes say", 1 },
	HELP_OPTIONS,
	{},
};

/* How each command is named in its usage line and messages. */
static const char *const cmd_names[] = {
	[CMD_TRACE] = "kleak",
	[CMD_REPORT] = "kleak report",
	[CMD_DIFF] = "kleak diff",
	[CMD_FEATURES] = "kleak features",
};

/*
 * One line and the usage status. argp_failure() would do, but its messages
 * are off under ARGP_NO_ERRS, which we need to keep getopt's two-line
 * complaints about unknown options to ourselves.
 */
static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kleak: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

/* Parses a decimal number in [min, max]; 0 or -EINVAL/-ERANGE. */
static int parse_u64(const char *arg, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (!*arg || *arg == '-' || *arg == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static __u64 arg_u64(const char *opt, const char *arg, __u64 min, __u64 max)
{
	__u64 v = 0;
	int err = parse_u64(arg, min, max, &v);

	if (err == -EINVAL)
		usage_error("invalid %s '%s': not a number", opt, arg);
	else if (err)
		usage_error("invalid %s '%s': must be %llu..%llu", opt, arg,
			     (unsigned long long)min, (unsigned long long)max);
	return v;
}

static int parse_arg(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;
	static int positional;

	switch (key) {
	case 'c':
		if (!*arg || strlen(arg) >= KLEAK_COMM_LEN)
			usage_error("invalid --comm '%s': must be 1..%d characters", arg,
				     KLEAK_COMM_LEN - 1);
		env->comm = arg;
		break;
	case 'p':
		env->pid = arg_u64("--pid", arg, 1, INT_MAX);
		break;
	case OPT_FOLLOW:
		env->follow = true;
		break;
	case OPT_PAGES:
		if (arg && strcmp(arg, "all"))
			usage_error("invalid --pages '%s': only --pages=all takes a value", arg);
		env->pages = true;
		env->pages_user |= arg != NULL;
		break;
	case OPT_VMALLOC:
		env->vmalloc = true;
		break;
	case OPT_PERCPU:
		env->percpu = true;
		break;
	case OPT_ALL_ALLOCATORS:
		env->all_allocators = env->pages = env->vmalloc = env->percpu = true;
		break;
	case OPT_CGROUP:
		env->cgroup = arg;
		break;
	case OPT_CACHE:
		if (!*arg || strlen(arg) >= KLEAK_CACHE_NAME_LEN)
			usage_error("invalid --cache '%s': must be 1..%d characters", arg,
				     KLEAK_CACHE_NAME_LEN - 1);
		env->cache = arg;
		break;
	case 'z':
		env->min_size = arg_u64("--min-size", arg, 0, ULLONG_MAX);
		break;
	case 'Z':
		env->max_size = arg_u64("--max-size", arg, 1, ULLONG_MAX);
		break;
	case 's':
		env->sample_rate = arg_u64("--sample-rate", arg, 1, 1 << 20);
		break;
	case OPT_DURATION:
		env->duration_s = arg_u64("--duration", arg, 1, 365 * 24 * 3600);
		break;
	case OPT_LINGER:
		env->linger_s = arg_u64("--linger", arg, 0, 3600);
		break;
	case 't':
		env->trace = true;
		break;
	case 'w':
		env->write_path = arg;
		break;
	case OPT_METRICS:
		env->metrics_path = arg;
		break;
	case 'o':
		env->older_ms = arg_u64("--older", arg, 0, 30 * 24 * 3600) * 1000;
		env->older_set = true;
		break;
	case 'T':
		env->top = arg_u64("--top", arg, 0, UINT_MAX);
		env->top_set = true;
		break;
	case OPT_FORMAT: {
		static const char *const names[] = {
			[FORMAT_TEXT] = "text", [FORMAT_JSON] = "json", [FORMAT_FOLDED] = "folded",
			[FORMAT_PPROF] = "pprof", [FORMAT_SVG] = "svg",
		};
		int n = env->cmd == CMD_FEATURES ? FORMAT_JSON + 1 : FORMAT_SVG + 1, i;

		for (i = 0; i < n && strcmp(arg, names[i]); i++)
			;
		if (i == n)
			usage_error(env->cmd == CMD_FEATURES ? "invalid --format '%s': text or json" :
				    "invalid --format '%s': text, json, folded, pprof or svg", arg);
		env->format = i;
		env->json = i == FORMAT_JSON;
		break;
	}
	case 'O':
		env->output_path = arg;
		break;
	case OPT_VALUE:
		if (!strcmp(arg, "bytes"))
			env->value = VALUE_BYTES;
		else if (!strcmp(arg, "count"))
			env->value = VALUE_COUNT;
		else
			usage_error("invalid --value '%s': bytes or count", arg);
		break;
	case OPT_NO_CACHES:
	case OPT_CACHES:
		env->no_caches = key == OPT_NO_CACHES;
		env->caches_set = true;
		break;
	case OPT_EXCLUDE: {
		char msg[128];
		int rc;

		if (env->exclude)
			usage_error("--exclude given twice: join the patterns with |");
		if (recost__nodes(arg) > RECOST_MAX_NODES)
			usage_error("invalid --exclude '%.64s%s': its repetitions nest too deep to "
				    "compile", arg, strlen(arg) > 64 ? "..." : "");
		rc = regcomp(&env->exclude_re, arg, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			regerror(rc, &env->exclude_re, msg, sizeof(msg));
			usage_error("invalid --exclude '%s': %s", arg, msg);
		}
		env->exclude = arg;
		break;
	}
	case OPT_MIN_DELTA:
		env->min_delta = arg_u64("--min-delta", arg, 0, LLONG_MAX);
		break;
	case OPT_MAX_ALLOCS:
		env->max_allocs = arg_u64("--max-allocs", arg, 1, 1 << 26);
		break;
	case OPT_MAX_SITES:
		env->max_sites = arg_u64("--max-sites", arg, 1, 1 << 24);
		break;
	case OPT_STACK_ENTRIES:
		env->stack_entries = arg_u64("--stack-entries", arg, 1, 1 << 22);
		break;
	case OPT_STACK_DEPTH:
		env->stack_depth = arg_u64("--stack-depth", arg, 1, KLEAK_MAX_STACK_DEPTH);
		break;
	case OPT_RAW_ADDRESSES:
		env->raw_addresses = true;
		break;
	case OPT_FILE_MODE: {
		unsigned long mode;
		char *end;

		errno = 0;
		mode = strtoul(arg, &end, 8);
		/* others may read what kleak writes, never change it; nothing runs it */
		if (*arg < '0' || *arg > '7' || *end || errno || mode & ~0644UL)
			usage_error("invalid --file-mode '%s': an octal mode within 0644 (read for "
				    "group and others at most)", arg);
		env->file_mode = mode;
		env->file_mode_set = true;
		break;
	}
	case OPT_STACK_CACHE:
		if (!strcmp(arg, "on"))
			env->stack_cache = STACK_CACHE_ON;
		else if (!strcmp(arg, "off"))
			env->stack_cache = STACK_CACHE_OFF;
		else if (!strcmp(arg, "check"))
			env->stack_cache = STACK_CACHE_CHECK;
		else
			usage_error("invalid --stack-cache '%s': on, off or check", arg);
		break;
	case OPT_USTACK:
		if (!arg || !strcmp(arg, "fp"))
			env->ustack = USTACK_FP;
		else if (!strcmp(arg, "dwarf"))
			env->ustack = USTACK_DWARF;
		else
			usage_error("invalid --ustack '%s': fp or dwarf", arg);
		break;
	case OPT_USTACK_DEPTH:
		env->ustack_depth = arg_u64("--ustack-depth", arg, 1, KLEAK_MAX_USTACK_DEPTH);
		break;
	case OPT_BTF:
		env->btf_path = arg;
		break;
	case OPT_HELD_BY:
		env->held_class = model__held_by_name(arg);
		if (env->held_class <= HELD_UNKNOWN || env->held_class == HELD_GONE ||
		    env->held_class == HELD_MERGED)
			usage_error("invalid --held-by '%s': live, zombie, reaped, fd, no-fd, "
				    "mapped or orphan", arg);
		env->held_by = arg;
		break;
	case 'v':
		env->verbose = true;
		break;
	case 'h':
	case OPT_USAGE:
		argp_help(state->root_argp, stdout,
			  key == 'h' ? ARGP_HELP_STD_HELP : ARGP_HELP_USAGE,
			  (char *)cmd_names[env->cmd]);
		exit(0);
	case 'V':
		printf("%s\n", argp_program_version);
		exit(0);
	case ARGP_KEY_ARG:
		if (env->cmd != CMD_TRACE) {
			if (positional >= (env->cmd == CMD_DIFF ? 2 : env->cmd == CMD_REPORT))
				usage_error("unexpected argument '%s'", arg);
			env->files[positional++] = arg;
		} else if (positional == 0) {
			env->interval_s = arg_u64("interval", arg, 1, 24 * 3600);
			positional++;
		} else if (positional == 1) {
			env->count = arg_u64("count", arg, 1, UINT_MAX);
			positional++;
		} else {
			usage_error("unexpected argument '%s' (a command goes after --)", arg);
		}
		break;
	case ARGP_KEY_INIT:
		positional = 0;
		break;
	case ARGP_KEY_ERROR:
		usage_error("bad option '%s': unknown, or missing its value (see %s --help)",
			    state->argv[state->next - 1], cmd_names[env->cmd]);
	case ARGP_KEY_END:
		if (env->cmd == CMD_REPORT && positional != 1)
			usage_error("report: expected one run FILE");
		if (env->cmd == CMD_DIFF && positional != 2)
			usage_error("diff: expected two run files");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* Whether a shell reads arg back unchanged without quotes: Python's shlex.quote() set. */
static bool shell_safe(const char *arg)
{
	const char *p;

	if (!*arg)
		return false;
	for (p = arg; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("@%+=:,./-_", *p))
			return false;
	return true;
}

char *opts__join_args(int argc, char *const argv[])
{
	char *s = NULL;
	size_t len = 0;
	const char *p;
	FILE *f;
	int i;

	f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (i = 0; i < argc; i++) {
		if (i)
			fputc(' ', f);
		if (shell_safe(argv[i])) {
			fputs(argv[i], f);
			continue;
		}
		/* nothing is special inside single quotes but the quote itself */
		fputc('\'', f);
		for (p = argv[i]; *p; p++) {
			if (*p == '\'')
				fputs("'\\''", f);
			else
				fputc(*p, f);
		}
		fputc('\'', f);
	}
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * --cache selects one allocator's memory: that allocator must be traced,
 * and no other may be asked for, since it would record nothing. A page
 * site's name with an order past the largest is no slab cache either.
 */
static int check_cache(const struct env *env)
{
	static const char *const opt[KLEAK_ALLOC_MAX] = {
		[KLEAK_ALLOC_PAGES] = "--pages", [KLEAK_ALLOC_VMALLOC] = "--vmalloc",
		[KLEAK_ALLOC_PERCPU] = "--percpu",
	};
	const bool traced[KLEAK_ALLOC_MAX] = {
		true, env->pages, env->vmalloc, env->percpu,
	};
	enum kleak_allocator a = KLEAK_ALLOC_SLAB, other;
	struct alloc_cache c;

	if (!env->cache)
		return 0;
	if (allocators__parse_cache(env->cache, &c)) {
		a = c.allocator;
	} else if (!strncmp(env->cache, "pages/", 6) || !strncmp(env->cache, "user pages/", 11)) {
		pr_err("invalid --cache '%s': a page site is pages/order-N or user pages/order-N, "
		       "N from 0 to %d", env->cache, KLEAK_MAX_PAGE_ORDER);
		return -EINVAL;
	}
	if (!traced[a]) {
		pr_err("--cache %s selects %s memory, which this run does not trace: add %s",
		       env->cache, allocators__name(a),
		       c.kinds == 1U << KLEAK_SITE_PAGES_USER ? "--pages=all" : opt[a]);
		return -EINVAL;
	}
	if (a == KLEAK_ALLOC_PAGES && c.kinds == 1U << KLEAK_SITE_PAGES_USER && !env->pages_user) {
		pr_err("--cache %s selects user pages, which --pages leaves out: give --pages=all",
		       env->cache);
		return -EINVAL;
	}
	if (env->all_allocators) {
		pr_err("--cache %s selects %s memory only: give %s instead of --all-allocators",
		       env->cache, allocators__name(a), a ? opt[a] : "no allocator option");
		return -EINVAL;
	}
	for (other = KLEAK_ALLOC_PAGES; other < KLEAK_ALLOC_MAX; other++)
		if (other != a && traced[other]) {
			pr_err("--cache %s selects %s memory: %s would record nothing, drop it",
			       env->cache, allocators__name(a), opt[other]);
			return -EINVAL;
		}
	return 0;
}

/* Cross-option checks, once, after everything is parsed. */
static int validate(struct env *env)
{
	bool tracing = env->cmd == CMD_TRACE;

	if (env->min_size > env->max_size) {
		pr_err("invalid sizes: --min-size %llu is above --max-size %llu",
		       (unsigned long long)env->min_size, (unsigned long long)env->max_size);
		return -EINVAL;
	}
	if (env->follow && !env->pid) {
		pr_err("--follow needs --pid (a command after -- is always followed)");
		return -EINVAL;
	}
	if (env->command && env->pid) {
		pr_err("--pid and a command after -- cannot be combined");
		return -EINVAL;
	}
	if (env->command && (env->interval_s || env->duration_s)) {
		pr_err("a command after -- ends the run itself: drop INTERVAL and --duration");
		return -EINVAL;
	}
	if (env->count && env->duration_s) {
		pr_err("COUNT and --duration both end the run: give one");
		return -EINVAL;
	}
	if (tracing && check_cache(env))
		return -EINVAL;
	if (env->ustack == USTACK_OFF && env->ustack_depth != DEFAULT_USTACK_DEPTH) {
		pr_err("--ustack-depth caps user stacks: it needs --ustack");
		return -EINVAL;
	}
	/* each command's own table refuses the other commands' options */
	if (!tracing && env->command) {
		pr_err("a command after -- is traced, and %s does not trace", cmd_names[env->cmd]);
		return -EINVAL;
	}
	if (env->file_mode_set && !env->write_path && !env->output_path && !env->metrics_path) {
		pr_err("--file-mode is the mode of the files -w, --output and --metrics write: "
		       "give one");
		return -EINVAL;
	}
	if (env->value == VALUE_COUNT && env->format != FORMAT_FOLDED &&
	    env->format != FORMAT_SVG) {
		pr_err("--value count weighs folded stacks and svg flame graphs: give --format "
		       "folded or svg");
		return -EINVAL;
	}
	/* one report after another on stdout reads as text or JSON lines, not as one graph */
	if (tracing && env->format > FORMAT_JSON && !env->output_path &&
	    (env->interval_s || env->trace)) {
		pr_err("--format %s with %s: give --output FILE, which each report replaces",
		       env->format == FORMAT_FOLDED ? "folded" :
		       env->format == FORMAT_PPROF ? "pprof" : "svg",
		       env->trace ? "--trace" : "INTERVAL");
		return -EINVAL;
	}
	if (!env->older_set && tracing && env->command)
		env->older_ms = 0;
	/* else every report of "kleak 5" would stay empty until the run is 6 s old */
	if (!env->older_set && tracing && env->interval_s && env->interval_s * 1000 < env->older_ms)
		env->older_ms = env->interval_s * 1000;
	return 0;
}

int opts__parse(int argc, char **argv, struct env *env)
{
	static const struct argp argps[] = {
		[CMD_TRACE] = {
			.options = trace_options,
			.parser = parse_arg,
			.args_doc = "[INTERVAL [COUNT]] [-- COMMAND [ARG...]]",
			.doc = trace_doc,
		},
		[CMD_REPORT] = {
			.options = report_options,
			.parser = parse_arg,
			.args_doc = "FILE",
			.doc = report_doc,
		},
		[CMD_DIFF] = {
			.options = diff_options,
			.parser = parse_arg,
			.args_doc = "FILE_A FILE_B",
			.doc = diff_doc,
		},
		[CMD_FEATURES] = {
			.options = features_options,
			.parser = parse_arg,
			.doc = features_doc,
		},
	};
	int i, dashdash = argc, first = 1;
	int err;

	memset(env, 0, sizeof(*env));
	env->max_size = ~0ULL;
	env->sample_rate = 1;
	env->top = DEFAULT_TOP;
	env->linger_s = DEFAULT_LINGER_S;
	env->max_allocs = DEFAULT_MAX_ALLOCS;
	env->max_sites = DEFAULT_MAX_SITES;
	env->stack_entries = DEFAULT_STACK_ENTRIES;
	env->stack_depth = DEFAULT_STACK_DEPTH;
	env->ustack_depth = DEFAULT_USTACK_DEPTH;
	env->file_mode = 0600;

	if (argc > 1 && !strcmp(argv[1], "report"))
		env->cmd = CMD_REPORT;
	else if (argc > 1 && !strcmp(argv[1], "diff"))
		env->cmd = CMD_DIFF;
	else if (argc > 1 && !strcmp(argv[1], "features"))
		env->cmd = CMD_FEATURES;

	/* argp would take a command's own options as ours: split at -- first */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			dashdash = i;
			break;
		}
	}
	if (dashdash < argc) {
		if (dashdash + 1 == argc) {
			pr_err("nothing to run after --");
			return -EINVAL;
		}
		env->command = &argv[dashdash + 1];
	}
	env->cmdline = opts__join_args(argc, argv);
	if (!env->cmdline)
		return -ENOMEM;

	if (env->cmd != CMD_TRACE) {
		/* the subcommand word becomes argv[0] for argp */
		first = 2;
		argv[1] = argv[0];
	}
	err = argp_parse(&argps[env->cmd], dashdash - first + 1, argv + first - 1,
			 ARGP_NO_ERRS | ARGP_NO_HELP, NULL, env);
	if (err)
		return -EINVAL;
	if (!env->older_set)
		env->older_ms = DEFAULT_OLDER_MS;
	log_verbose = env->verbose;
	outfile__set_mode(env->file_mode);
	return validate(env);
}

void opts__free(struct env *env)
{
	free(env->cmdline);
	env->cmdline = NULL;
	if (env->exclude)
		regfree(&env->exclude_re);
	env->exclude = NULL;
}

char *opts__filters_str(const struct env *env)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	if (env->command)
		fprintf(f, " command=%s+children", env->command[0]);
	if (env->pid)
		fprintf(f, " pid=%u%s", env->pid, env->follow ? "+children" : "");
	if (env->comm)
		fprintf(f, " comm=%s", env->comm);
	if (env->cgroup)
		fprintf(f, " cgroup=%s", env->cgroup);
	if (env->cache)
		fprintf(f, " cache=%s", env->cache);
	if (env->min_size)
		fprintf(f, " min-size=%llu", (unsigned long long)env->min_size);
	if (env->max_size != ~0ULL)
		fprintf(f, " max-size=%llu", (unsigned long long)env->max_size);
	if (env->sample_rate > 1)
		fprintf(f, " sample=1/%u", env->sample_rate);
	if (env->pages_user)
		fputs(" pages=all", f);
	if (env->held_by)
		fprintf(f, " held-by=%s", env->held_by);
	if (!len && !ftell(f))
		fputs(" none", f);
	if (fclose(f))
		return NULL;
	memmove(s, s + 1, strlen(s));
	return s;
}
