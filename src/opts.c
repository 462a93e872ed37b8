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
#include "kleak.h"
#include "log.h"
#include "opts.h"

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
#define DEFAULT_STACK_DEPTH	64

const char *argp_program_version = "kleak " KLEAK_VERSION;
const char *argp_program_bug_address = "<kleak@localhost>";

static const char doc[] =
"Show which kernel code paths hold slab memory that was allocated and not freed.\n"
"\n"
"USAGE: kleak [OPTION...] [INTERVAL [COUNT]] [-- COMMAND [ARG...]]\n"
"       kleak report [OPTION...] FILE\n"
"       kleak diff [OPTION...] FILE_A FILE_B\n"
"       kleak features [--format json]\n"
"\n"
"Allocations are filtered (process, cgroup, comm, cache, size) when they are\n"
"made; frees are matched whoever does them. Ctrl-C, SIGTERM, the end of COUNT\n"
"intervals or of --duration print the final report; SIGUSR1 prints one now.\n"
"\n"
"EXAMPLES:\n"
"  kleak --duration 10              # one-shot: trace 10 s, print, exit\n"
"  kleak -c beegfs-ctl 5            # allocations by beegfs-ctl, report every 5 s\n"
"  kleak --cache task_struct -p 42  # task_structs allocated by process 42\n"
"  kleak -w rdma.run -- beegfs-ctl --migrate ...  # a command and its children\n"
"  kleak diff tcp.run rdma.run      # which stacks hold more in one run\n"
"  kleak report --top 3 rdma.run    # print a saved run again\n"
"  kleak features                   # what this kernel offers, which programs load\n";

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
	OPT_USAGE,
	OPT_EXCLUDE,
	OPT_STACK_CACHE,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "What to trace (allocations only; frees always match):", 1 },
	{ "comm", 'c', "NAME", 0, "Allocations by tasks named NAME (exact)", 1 },
	{ "pid", 'p', "PID", 0, "Allocations by process PID and its threads", 1 },
	{ "follow", OPT_FOLLOW, NULL, 0, "With --pid: also children forked after attach", 1 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Allocations by tasks in cgroup v2 PATH or below", 1 },
	{ "cache", OPT_CACHE, "NAME", 0,
	  "Objects of slab cache NAME (aliases of a merged cache resolved)", 1 },
	{ "min-size", 'z', "BYTES", 0, "Objects of at least BYTES", 1 },
	{ "max-size", 'Z', "BYTES", 0, "Objects of at most BYTES", 1 },
	{ "sample-rate", 's', "N", 0,
	  "Record one allocation in N at random; counts are scaled estimates", 1 },

	{ NULL, 0, NULL, 0, "When to report:", 2 },
	{ "duration", OPT_DURATION, "SEC", 0, "Stop after SEC seconds", 2 },
	{ "linger", OPT_LINGER, "SEC", 0,
	  "After COMMAND exits, wait SEC for deferred frees (default 6)", 2 },
	{ "trace", 't', NULL, 0, "Print every recorded allocation and its free as it happens", 2 },
	{ "write", 'w', "FILE", 0, "Save the final report as a run file (see kleak report/diff)", 2 },

	{ NULL, 0, NULL, 0, "What the report shows:", 3 },
	{ "older", 'o', "SEC", 0, "Only allocations at least SEC old (default 6; 0 with COMMAND)", 3 },
	{ "top", 'T', "N", 0, "Show the N sites holding the most (default 10, 0: all)", 3 },
	{ "format", OPT_FORMAT, "FMT", 0, "text (default) or json", 3 },
	{ "no-caches", OPT_NO_CACHES, NULL, 0, "Leave out the per-cache summary", 3 },
	{ "min-delta", OPT_MIN_DELTA, "BYTES", 0, "diff: leave out changes smaller than BYTES", 3 },
	{ "exclude", OPT_EXCLUDE, "REGEX", 0,
	  "Leave out sites with a frame matching REGEX (extended), e.g. known noise", 3 },

	{ NULL, 0, NULL, 0, "Sizing and kernel access:", 4 },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", 0, "Outstanding allocations tracked (default 524288)", 4 },
	{ "max-sites", OPT_MAX_SITES, "N", 0, "Distinct stack+cache sites (default 65536)", 4 },
	{ "stack-entries", OPT_STACK_ENTRIES, "N", 0, "Stack map entries (default 32768)", 4 },
	{ "stack-depth", OPT_STACK_DEPTH, "N", 0, "Frames kept per stack (default 64, max 127)", 4 },
	{ "stack-cache", OPT_STACK_CACHE, "MODE", 0,
	  "on (default): skip the stack walk where a verified template holds; off; check: "
	  "walk anyway and count templates that disagree", 4 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF for kernels without /sys/kernel/btf/vmlinux", 4 },
	{ "verbose", 'v', NULL, 0, "Print libbpf and sizing details", 4 },
	/* ours, not argp's: ARGP_NO_ERRS keeps argp's own --help from exiting */
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },
	{ "version", 'V', NULL, 0, "Print program version", -1 },
	{},
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
	case 'o':
		env->older_ms = arg_u64("--older", arg, 0, 30 * 24 * 3600) * 1000;
		break;
	case 'T':
		env->top = arg_u64("--top", arg, 0, UINT_MAX);
		break;
	case OPT_FORMAT:
		if (!strcmp(arg, "json"))
			env->json = true;
		else if (strcmp(arg, "text"))
			usage_error("invalid --format '%s': text or json",
				     arg);
		break;
	case OPT_NO_CACHES:
		env->no_caches = true;
		break;
	case OPT_EXCLUDE: {
		char msg[128];
		int rc;

		if (env->exclude)
			usage_error("--exclude given twice: join the patterns with |");
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
	case OPT_BTF:
		env->btf_path = arg;
		break;
	case 'v':
		env->verbose = true;
		break;
	case 'h':
		argp_help(state->root_argp, stdout, ARGP_HELP_STD_HELP, "kleak");
		exit(0);
	case OPT_USAGE:
		argp_help(state->root_argp, stdout, ARGP_HELP_USAGE, "kleak");
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
		usage_error("bad option '%s': unknown, or missing its value (see kleak --help)",
			    state->argv[state->next - 1]);
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

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Cross-option checks, once, after everything is parsed. */
static int validate(struct env *env, bool older_set)
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
	if (env->cmd == CMD_FEATURES &&
	    (env->comm || env->pid || env->cgroup || env->command || env->trace || env->write_path ||
	     env->sample_rate != 1 || env->interval_s || env->cache || env->exclude)) {
		pr_err("features probes the kernel: it takes only --format, --btf and -v");
		return -EINVAL;
	}
	if (!tracing && (env->comm || env->pid || env->cgroup || env->command || env->trace ||
			 env->write_path || env->sample_rate != 1 || env->interval_s)) {
		pr_err("%s reads saved runs: tracing options do not apply",
		       env->cmd == CMD_DIFF ? "diff" : "report");
		return -EINVAL;
	}
	if (tracing && env->min_delta) {
		pr_err("--min-delta applies to kleak diff only");
		return -EINVAL;
	}
	if (!older_set && tracing && env->command)
		env->older_ms = 0;
	return 0;
}

int opts__parse(int argc, char **argv, struct env *env)
{
	static const struct argp argp = {
		.options = options,
		.parser = parse_arg,
		.doc = doc,
	};
	int i, dashdash = argc, first = 1;
	bool older_set = false;
	int err;

	memset(env, 0, sizeof(*env));
	env->max_size = ~0ULL;
	env->sample_rate = 1;
	env->older_ms = ~0ULL;
	env->top = DEFAULT_TOP;
	env->linger_s = DEFAULT_LINGER_S;
	env->max_allocs = DEFAULT_MAX_ALLOCS;
	env->max_sites = DEFAULT_MAX_SITES;
	env->stack_entries = DEFAULT_STACK_ENTRIES;
	env->stack_depth = DEFAULT_STACK_DEPTH;

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
	env->cmdline = join_args(argc, argv);
	if (!env->cmdline)
		return -ENOMEM;

	if (env->cmd != CMD_TRACE) {
		/* the subcommand word becomes argv[0] for argp */
		first = 2;
		argv[1] = argv[0];
	}
	err = argp_parse(&argp, dashdash - first + 1, argv + first - 1, ARGP_NO_ERRS | ARGP_NO_HELP,
			 NULL, env);
	if (err)
		return -EINVAL;
	if (env->older_ms == ~0ULL)
		env->older_ms = DEFAULT_OLDER_MS;
	else
		older_set = true;
	log_verbose = env->verbose;
	return validate(env, older_set);
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
	if (!len && !ftell(f))
		fputs(" none", f);
	if (fclose(f))
		return NULL;
	memmove(s, s + 1, strlen(s));
	return s;
}
