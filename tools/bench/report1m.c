// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-report1m: the cost of a report over a full allocs map, without
 * tracing. It creates maps shaped like the tracer's, fills them with N
 * outstanding allocations over a few thousand sites whose stacks are real
 * kernel text addresses from /proc/kallsyms, then times what a report costs
 * (ksyms__load + snapshot__take + the report, in each --format) and watches
 * VmRSS over 100 snapshot+report cycles; then the same for --metrics files
 * (snapshot + metrics__write, with and without the interval trend). Results
 * go to stdout as "name value" lines for tools/bench/run.sh.
 * With -t TASKS -f FILES -m MAPS it times the object classification instead
 * (classify__model), with TASKS threads sleeping, FILES files open and MAPS
 * files mapped (one vma each) for the walks to cover, and a quarter of the sites in each
 * of task_struct, filp and TCP: their records, at made-up addresses no walk
 * finds, all take the slow path (checked still recorded, then examples).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "alloc_place.h"
#include "classify.h"
#include "kleak.skel.h"
#include "loader.h"
#include "metrics.h"
#include "model.h"
#include "output.h"
#include "report.h"
#include "snapshot.h"

/* kleak's defaults (src/opts.c): the totals array is dumped whole */
#define BENCH_MAX_SITES		(64 * 1024)
#define BENCH_STACK_DEPTH	64
#define BENCH_UPDATE_CHUNK	(64 * 1024)
#define BENCH_MAX_RUNS		101

struct bench_opts {
	__u64 allocs;
	__u64 sites;
	__u64 stacks;
	__u64 runs;
	__u64 cycles;
	__u64 tasks;	/* -t: classification mode, threads held */
	__u64 files;	/* -f: files held open */
	__u64 maps;	/* -m: files held mapped, their fds closed */
};

/* Sites of kind cache are named after these in classification mode, one in four each. */
static const char *const classified_caches[] = { "task_struct", "filp", "TCP" };

static void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void pr_err(const char *fmt, ...)
{
	va_list ap;

	fputs("bench-report1m: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int parse_u64(const char *arg, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* xorshift64: reproducible fill without libc rand()'s global state */
static __u64 next_rand(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* field is "VmRSS" (resident now) or "VmHWM" (peak); -1 if unreadable */
static long status_kib(const char *field)
{
	char line[256], name[32];
	long kib = -1, v;
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31[^:]: %ld kB", name, &v) == 2 && !strcmp(name, field)) {
			kib = v;
			break;
		}
	fclose(f);
	return kib;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sorted addresses of the text symbols in /proc/kallsyms, so that a frame
 * can be placed inside a function (between its start and the next symbol)
 * and symbolization does the work it does on a real stack.
 */
static int read_text_addrs(__u64 **addrs, size_t *n)
{
	size_t cap = 0, cnt = 0;
	char line[512], type;
	unsigned long long a;
	__u64 *v = NULL, *tmp;
	FILE *f;
	int err = 0;

	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c", &a, &type) != 2 || (type != 't' && type != 'T') || !a)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 65536;
			tmp = realloc(v, cap * sizeof(*v));
			if (!tmp) {
				err = -ENOMEM;
				goto out;
			}
			v = tmp;
		}
		v[cnt++] = a;
	}
	if (cnt < 2) {
		err = -EPERM;
		goto out;
	}
	qsort(v, cnt, sizeof(*v), cmp_u64);
out:
	fclose(f);
	if (err) {
		free(v);
		return err;
	}
	*addrs = v;
	*n = cnt;
	return 0;
}

static int create_map(enum bpf_map_type type, const char *name, __u32 ksz, __u32 vsz, __u32 max,
		      __u32 flags, int *fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);

	*fd = bpf_map_create(type, name, ksz, vsz, max, &opts);
	if (*fd < 0) {
		*fd = -1;
		pr_err("cannot create map %s (%u entries): %s", name, max, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Stacks of 8 to 40 frames inside kernel functions, keyed by a made-up hash. */
static int fill_stacks(int fd, const __u64 *text, size_t n_text, __u64 n_stacks, __u64 *keys,
		       __u64 *seed)
{
	__u64 frames[BENCH_STACK_DEPTH];
	__u64 i, j, depth, gap, k;

	for (i = 0; i < n_stacks; i++) {
		memset(frames, 0, sizeof(frames));
		depth = 8 + next_rand(seed) % 33;
		for (j = 0; j < depth; j++) {
			k = next_rand(seed) % (n_text - 1);
			gap = text[k + 1] - text[k];
			frames[j] = text[k] + (gap > 1 ? 1 + next_rand(seed) % (gap - 1) : 0);
		}
		keys[i] = next_rand(seed) | 1;
		if (bpf_map_update_elem(fd, &keys[i], frames, BPF_ANY)) {
			pr_err("cannot fill the stacks map: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int fill_totals(int fd, const struct bench_opts *o, const __u64 *counts,
		       const __u64 *stacks, __u64 *obj_size)
{
	struct kleak_site_totals t;
	__u32 i;

	for (i = 0; i < o->sites; i++) {
		memset(&t, 0, sizeof(t));
		t.site.kind = i % 3;
		t.site.stack = stacks[i % o->stacks];
		obj_size[i] = 8ULL << (i % 11);
		switch (t.site.kind) {
		case KLEAK_SITE_CACHE:
			t.site.cache = 0xffff888100000000ULL + i * 0x1000ULL;
			if ((o->tasks || o->files || o->maps) && i / 3 % 4 < 3)
				snprintf(t.cache_name, sizeof(t.cache_name), "%s",
					 classified_caches[i / 3 % 4]);
			else
				snprintf(t.cache_name, sizeof(t.cache_name), "bench_cache_%u",
					 i % 97);
			break;
		default:
			t.site.cache = obj_size[i];
		}
		t.count = counts[i];
		t.obj_size = obj_size[i];
		t.allocs = counts[i] + counts[i] / 2;
		if (bpf_map_update_elem(fd, &i, &t, BPF_ANY)) {
			pr_err("cannot fill the site_totals map: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/*
 * The allocations, placed in their buckets as the BPF side would place them,
 * then written in chunks of batch updates; ages up to two minutes.
 */
static int fill_allocs(int fd, const struct bench_opts *o, const __u32 *site_of, __u64 *seed)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 groups, shift, n_buckets, *keys, base, n, cnt, j;
	struct kleak_bucket *buckets, *b;
	__u64 now = mono_ns(), i, addr;
	int err = 0;

	n_buckets = tracer__alloc_geometry(o->allocs, &groups, &shift);
	buckets = calloc(n_buckets, sizeof(*buckets));
	keys = calloc(n_buckets, sizeof(*keys));
	if (!buckets || !keys) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < o->allocs; i++) {
		addr = 0xffff888200000000ULL + i * 64;
		b = alloc_place(buckets, groups, shift, addr, &j);
		if (!b) {
			err = -ENOSPC;
			pr_err("allocation %llu finds all three of its buckets full",
			       (unsigned long long)i);
			goto out;
		}
		b->addr[j] = addr;
		b->rec[j].ts_ns = now - next_rand(seed) % 120000000000ULL;
		b->rec[j].site = site_of[i];
		b->rec[j].pid = 1000 + i % 13;
		snprintf(b->rec[j].comm, sizeof(b->rec[j].comm), "bench-%llu",
			 (unsigned long long)(i % 13));
	}
	for (j = 0; j < n_buckets; j++)
		keys[j] = j;
	for (base = 0; base < n_buckets; base += n) {
		n = n_buckets - base < BENCH_UPDATE_CHUNK ? n_buckets - base : BENCH_UPDATE_CHUNK;
		cnt = n;
		if (bpf_map_update_batch(fd, keys + base, buckets + base, &cnt, &opts)) {
			err = -errno;
			pr_err("cannot fill the allocs map (bucket %u of %u): %s", base + cnt,
			       n_buckets, strerror(-err));
			goto out;
		}
	}
out:
	free(keys);
	free(buckets);
	return err;
}

static int fill_stats(int fd, const struct bench_opts *o)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kleak_stats *per_cpu;
	__u32 zero = 0;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	per_cpu[0].counters[STAT_ALLOC_EVENTS] = o->allocs * 2;
	per_cpu[0].counters[STAT_ALLOCS] = o->allocs * 3 / 2;
	per_cpu[0].counters[STAT_FREES] = o->allocs / 2;
	if (bpf_map_update_elem(fd, &zero, per_cpu, BPF_ANY)) {
		err = -errno;
		pr_err("cannot fill the stats map: %s", strerror(-err));
	}
	free(per_cpu);
	return err;
}

static int fill_maps(const struct tracer *t, const struct bench_opts *o)
{
	__u64 *text = NULL, *stacks = NULL, *counts = NULL, *obj_size = NULL;
	__u64 seed = 0x9e3779b97f4a7c15ULL, i;
	__u32 *site_of = NULL;
	size_t n_text;
	int err;

	err = read_text_addrs(&text, &n_text);
	if (err) {
		pr_err("cannot read text symbols from /proc/kallsyms: %s", strerror(-err));
		return err;
	}
	stacks = calloc(o->stacks, sizeof(*stacks));
	counts = calloc(o->sites, sizeof(*counts));
	obj_size = calloc(o->sites, sizeof(*obj_size));
	site_of = calloc(o->allocs, sizeof(*site_of));
	if (!stacks || !counts || !obj_size || !site_of) {
		err = -ENOMEM;
		pr_err("out of memory for %llu allocations", (unsigned long long)o->allocs);
		goto out;
	}
	/* skewed like a real leak: half of the allocations in 1/16 of the sites */
	for (i = 0; i < o->allocs; i++) {
		__u64 r = next_rand(&seed);

		site_of[i] = r & 1 ? (r >> 1) % ((o->sites + 15) / 16) : (r >> 1) % o->sites;
		counts[site_of[i]]++;
	}
	err = fill_stacks(t->stacks_fd, text, n_text, o->stacks, stacks, &seed);
	if (!err)
		err = fill_totals(t->totals_fd, o, counts, stacks, obj_size);
	if (!err)
		err = fill_allocs(t->allocs_fd, o, site_of, &seed);
	if (!err)
		err = fill_stats(t->stats_fd, o);
out:
	free(text);
	free(stacks);
	free(counts);
	free(obj_size);
	free(site_of);
	return err;
}

/* kallsyms, or NULL with *err set after one error line. */
static struct ksyms *load_ksyms(int *err)
{
	struct ksyms *ks = ksyms__load();

	if (!ks) {
		*err = -errno;
		pr_err("cannot load /proc/kallsyms: %s", strerror(-*err));
	}
	return ks;
}

/*
 * One report as kleak prints it by default, built from the maps: text and
 * JSON the top 10 sites, the stack formats every site (output.c).
 */
static int snapshot_report(const struct tracer *t, const struct ksyms *ks, enum out_format fmt,
			   FILE *out)
{
	struct report_opts ro = {
		.older_ms = 6000,
		.top = 10,
		.max_size = ~0ULL,
		.json = fmt == FORMAT_JSON,
		.caches = true,
	};
	struct env env = { .format = fmt, .json = fmt == FORMAT_JSON, .top = 10 };
	struct model *m;
	int err;

	m = model__new();
	if (!m)
		return -ENOMEM;
	err = snapshot__take(t, ks, m);
	if (!err) {
		err = output__render_report(&env, m, &ro, NULL, out);
		if (err)
			pr_err("cannot print the report: %s", strerror(-err));
	}
	model__free(m);
	return err;
}

/*
 * --metrics as interval mode writes it: a model from the maps, then the
 * metrics file written atomically (temporary file, fsync, rename). With
 * trend, each model also carries the previous one's trends, as run.c does.
 */
static int snapshot_metrics(const struct tracer *t, const struct ksyms *ks, const char *path,
			    struct model **prev)
{
	struct model *m;
	int err;

	m = model__new();
	if (!m)
		return -ENOMEM;
	m->meta.sample_rate = 1;
	m->meta.interval_s = 1;
	m->meta.max_allocs = t->alloc_buckets * KLEAK_BUCKET_SLOTS / 2;
	m->meta.max_sites = t->max_sites;
	err = snapshot__take(t, ks, m);
	if (!err && prev)
		err = snapshot__carry_trend(*prev, m, true);
	if (!err)
		err = metrics__write(m, 10, path);
	if (prev && !err) {
		model__free(*prev);
		*prev = m;
	} else {
		model__free(m);
	}
	return err;
}

/* What a timed run writes: a report to out in fmt, or a metrics file. */
struct bench_output {
	enum out_format fmt;
	FILE *out;
	const char *metrics_path;	/* set: metrics__write() there instead of a report */
};

/* Median ms of runs of ksyms__load + snapshot__take + the report or metrics__write. */
static int time_report(const struct tracer *t, const struct bench_opts *o,
		       const struct bench_output *w, double *median)
{
	double ms[BENCH_MAX_RUNS], start;
	struct ksyms *ks;
	__u64 i;
	int err;

	for (i = 0; i < o->runs; i++) {
		start = now_ms();
		ks = load_ksyms(&err);
		if (!ks)
			return err;
		err = w->metrics_path ? snapshot_metrics(t, ks, w->metrics_path, NULL) :
					snapshot_report(t, ks, w->fmt, w->out);
		ksyms__free(ks);
		if (err)
			return err;
		ms[i] = now_ms() - start;
	}
	qsort(ms, o->runs, sizeof(ms[0]), cmp_double);
	*median = o->runs % 2 ? ms[o->runs / 2] : (ms[o->runs / 2 - 1] + ms[o->runs / 2]) / 2;
	return 0;
}

/* Interval mode's steady state: kallsyms loaded once, a report per cycle. */
static int watch_rss(const struct tracer *t, const struct bench_opts *o, FILE *out)
{
	long first = -1, rss;
	struct ksyms *ks;
	__u64 i;
	int err = 0;

	ks = load_ksyms(&err);
	if (!ks)
		return err;
	for (i = 1; i <= o->cycles; i++) {
		err = snapshot_report(t, ks, FORMAT_TEXT, out);
		if (err)
			break;
		if (i != 1 && i != 10 && i != o->cycles)
			continue;
		rss = status_kib("VmRSS");
		if (i == 1)
			first = rss;
		printf("rss_kib_after_%llu %ld\n", (unsigned long long)i, rss);
	}
	if (!err)
		printf("rss_growth_kib %ld\nrss_peak_kib %ld\n", status_kib("VmRSS") - first,
		       status_kib("VmHWM"));
	ksyms__free(ks);
	return err;
}

/*
 * VmRSS over o->cycles metrics writes (kallsyms loaded once, as interval
 * mode keeps it): "metrics" without the interval trend, "metrics_trend"
 * with it, as run.c writes them. Growth is counted from the first write:
 * with the trend the previous interval's model stays alive while the next
 * is built, and a step that makes in the first intervals is growth too
 * (the tenth write's RSS is printed beside it, to tell a step from a climb).
 */
static int watch_metrics_rss(const struct tracer *t, const struct bench_opts *o,
			     const char *path, bool trend)
{
	const char *name = trend ? "metrics_trend" : "metrics";
	struct model *prev = NULL;
	long first = -1, tenth = -1;
	struct ksyms *ks;
	__u64 i;
	int err = 0;

	ks = load_ksyms(&err);
	if (!ks)
		return err;
	for (i = 1; i <= o->cycles && !err; i++) {
		err = snapshot_metrics(t, ks, path, trend ? &prev : NULL);
		if (i == 1)
			first = status_kib("VmRSS");
		if (i == 10)
			tenth = status_kib("VmRSS");
	}
	if (!err)
		printf("%s_rss_kib_after_1 %ld\n%s_rss_kib_after_10 %ld\n"
		       "%s_rss_kib_after_%llu %ld\n%s_rss_growth_kib %ld\n", name, first, name,
		       tenth, name, (unsigned long long)o->cycles, status_kib("VmRSS"), name,
		       status_kib("VmRSS") - first);
	model__free(prev);
	ksyms__free(ks);
	return err;
}

static int bench_metrics(const struct tracer *t, const struct bench_opts *o)
{
	char dir[] = "/tmp/kleak-bench-metrics.XXXXXX", path[64];
	double ms = 0;
	int err;

	if (!mkdtemp(dir)) {
		err = -errno;
		pr_err("cannot create a directory for the metrics file: %s", strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "%s/kleak.prom", dir);
	err = time_report(t, o, &(struct bench_output){ .metrics_path = path }, &ms);
	if (!err) {
		printf("metrics_1m_ms %.0f\n", ms);
		fflush(stdout);
		err = watch_metrics_rss(t, o, path, false);
	}
	if (!err)
		err = watch_metrics_rss(t, o, path, true);
	unlink(path);
	rmdir(dir);
	return err;
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

/* Files per holder process, under the 20000 hard RLIMIT_NOFILE a container may impose. */
#define FILES_PER_HOLDER 16384
/* Mappings per holder process, under the default vm.max_map_count (65530). */
#define MAPS_PER_HOLDER 16384

/*
 * Holds n files the way the walks meet them: open, or (mapped) each opened
 * anew, one page of it mapped and the fd closed, so that only its vma holds
 * it (one record of the task_vma walk each). Returns 'r', or 'e' on failure.
 */
static char hold_files(__u64 n, bool mapped)
{
	struct rlimit rl = { n + 64, n + 64 };
	__u64 i;
	int fd;

	if (!mapped && setrlimit(RLIMIT_NOFILE, &rl))
		return 'e';
	for (i = 0; i < n; i++) {
		fd = open(mapped ? "/proc/self/exe" : "/dev/null", O_RDONLY);
		if (fd < 0)
			return 'e';
		if (mapped && (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED ||
			       close(fd)))
			return 'e';
	}
	return 'r';
}

/*
 * Forks the holders of total files, per_holder in each; each says 'r' (or
 * 'e') on ready and lives until the gate's last writer closes.
 */
static int fork_holders(__u64 total, __u64 per_holder, bool mapped, int ready,
			const int *gate, __u64 *holders)
{
	__u64 left, n;
	pid_t pid;
	char c;
	int err;

	for (left = total; left; left -= n) {
		n = left < per_holder ? left : per_holder;
		pid = fork();
		if (pid < 0) {
			err = -errno;
			pr_err("fork failed: %s", strerror(-err));
			return err;
		}
		(*holders)++;
		if (pid)
			continue;
		close(gate[1]);
		c = hold_files(n, mapped);
		if (write(ready, &c, 1) != 1)
			_exit(1);
		/* until the parent exits and the gate's last writer closes */
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	return 0;
}

/*
 * The tasks, open files and mapped files the classification walks cover:
 * threads of this process, and files in child processes (a process cannot
 * raise its hard RLIMIT_NOFILE without CAP_SYS_RESOURCE, nor map more than
 * vm.max_map_count). They live until exit; the children die with the pipe
 * they wait on.
 */
static int hold_tasks_files(const struct bench_opts *o)
{
	int ready[2], gate[2], err;
	__u64 i, holders = 0;
	pthread_attr_t attr;
	pthread_t th;
	char c;

	if (pipe(ready) || pipe(gate)) {
		err = -errno;
		pr_err("pipe failed: %s", strerror(-err));
		return err;
	}
	err = fork_holders(o->files, FILES_PER_HOLDER, false, ready[1], gate, &holders);
	if (!err)
		err = fork_holders(o->maps, MAPS_PER_HOLDER, true, ready[1], gate, &holders);
	if (err)
		return err;
	for (i = 0; i < holders; i++) {
		if (read(ready[0], &c, 1) != 1 || c != 'r') {
			pr_err("a child could not hold its files or mappings");
			return -EMFILE;
		}
	}
	pthread_attr_init(&attr);
	/* the smallest stacks: only the kernel's task count matters */
	pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
	for (i = 0; i < o->tasks; i++) {
		err = -pthread_create(&th, &attr, sleeper, NULL);
		if (err) {
			pr_err("pthread_create failed after %llu threads: %s",
			       (unsigned long long)i, strerror(-err));
			break;
		}
	}
	pthread_attr_destroy(&attr);
	return err;
}

/* Median ms of classify__model on a fresh snapshot, snapshot itself not timed. */
static int time_classify(const struct tracer *t, const struct bench_opts *o)
{
	double ms[BENCH_MAX_RUNS], start;
	__u64 i, classified = 0, reaped = 0;
	struct model *m;
	size_t j;
	int err = 0;

	for (i = 0; i < o->runs && !err; i++) {
		m = model__new();
		if (!m)
			return -ENOMEM;
		err = snapshot__take(t, NULL, m);
		start = now_ms();
		if (!err)
			err = classify__model(t, m);
		ms[i] = now_ms() - start;
		for (j = 0, classified = 0, reaped = 0; !err && j < m->n_sites; j++) {
			classified += m->sites[j].held ? m->sites[j].n_ages : 0;
			reaped += m->sites[j].n_held[HELD_REAPED];
		}
		if (!err && !m->held_kinds) {
			pr_err("nothing classified: %s", m->held_missing ?: "no reason given");
			err = -ENOENT;
		}
		model__free(m);
	}
	if (err)
		return err;
	qsort(ms, o->runs, sizeof(ms[0]), cmp_double);
	printf("allocs %llu\nsites %llu\nruns %llu\ntasks %llu\nfiles %llu\nmaps %llu\n",
	       (unsigned long long)o->allocs, (unsigned long long)o->sites,
	       (unsigned long long)o->runs, (unsigned long long)o->tasks,
	       (unsigned long long)o->files, (unsigned long long)o->maps);
	printf("classified %llu\nreaped %llu\n", (unsigned long long)classified,
	       (unsigned long long)reaped);
	printf("classify_ms %.0f\n", o->runs % 2 ? ms[o->runs / 2] :
	       (ms[o->runs / 2 - 1] + ms[o->runs / 2]) / 2);
	return 0;
}

static int usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n ALLOCS] [-s SITES] [-k STACKS] [-r RUNS] [-c CYCLES]\n"
		"  -n  outstanding allocations (default 1000000)\n"
		"  -s  sites holding them (default 2000, at most %u)\n"
		"  -k  distinct stacks (default 300)\n"
		"  -r  timed runs per format, median reported (default 5, at most %u)\n"
		"  -c  snapshot+report cycles for the RSS check (default 100)\n"
		"  -t  classification mode: threads held while it is timed\n"
		"  -f  classification mode: files held open while it is timed\n"
		"  -m  classification mode: files held mapped (their fds closed) while it is timed\n",
		prog, BENCH_MAX_SITES, BENCH_MAX_RUNS);
	return 64;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	const struct {
		int opt;
		__u64 *dst;
		__u64 max;
	} args[] = {
		{ 'n', &o->allocs, 1 << 26 },
		{ 's', &o->sites, BENCH_MAX_SITES },
		{ 'k', &o->stacks, 1 << 20 },
		{ 'r', &o->runs, BENCH_MAX_RUNS },
		{ 'c', &o->cycles, 1 << 20 },
		{ 't', &o->tasks, 1 << 20 },
		{ 'f', &o->files, 1 << 24 },
		{ 'm', &o->maps, 1 << 24 },
	};
	size_t i;
	int c;

	while ((c = getopt(argc, argv, "n:s:k:r:c:t:f:m:")) != -1) {
		for (i = 0; i < sizeof(args) / sizeof(args[0]) && args[i].opt != c; i++)
			;
		if (i == sizeof(args) / sizeof(args[0]))
			return -EINVAL;
		if (parse_u64(optarg, 1, args[i].max, args[i].dst)) {
			pr_err("invalid -%c '%s': not an integer in 1..%llu", c, optarg,
			       (unsigned long long)args[i].max);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
		.allocs = 1000000, .sites = 2000, .stacks = 300, .runs = 5, .cycles = 100,
	};
	struct tracer t = {
		.allocs_fd = -1, .allocs_hash_fd = -1, .totals_fd = -1, .stacks_fd = -1,
		.stats_fd = -1, .events_fd = -1,
		.stack_depth = BENCH_STACK_DEPTH, .max_sites = BENCH_MAX_SITES,
	};
	static const char *const names[] = {
		[FORMAT_TEXT] = "", [FORMAT_JSON] = "_json", [FORMAT_FOLDED] = "_folded",
		[FORMAT_PPROF] = "_pprof", [FORMAT_SVG] = "_svg",
	};
	double ms[FORMAT_SVG + 1];
	int fmt;
	__u32 groups, shift;
	FILE *null;
	int err;

	if (parse_args(argc, argv, &o))
		return usage(argv[0]);
	null = fopen("/dev/null", "w");
	if (!null) {
		pr_err("cannot open /dev/null: %s", strerror(errno));
		return 1;
	}
	/*
	 * snapshot__take() asks tracer__recursion_misses() for the programs'
	 * misses, which walks t->skel->obj: an opened, never loaded skeleton
	 * has programs without fds, so the sum is 0 and nothing is attached.
	 */
	t.skel = kleak_bpf__open();
	if (!t.skel) {
		err = -errno;
		pr_err("cannot open the kleak skeleton: %s", strerror(-err));
		goto cleanup;
	}
	t.alloc_buckets = tracer__alloc_geometry(o.allocs, &groups, &shift);
	err = create_map(BPF_MAP_TYPE_ARRAY, "allocs", sizeof(__u32), sizeof(struct kleak_bucket),
			 t.alloc_buckets, BPF_F_MMAPABLE, &t.allocs_fd);
	if (!err)
		err = create_map(BPF_MAP_TYPE_ARRAY, "site_totals", sizeof(__u32),
				 sizeof(struct kleak_site_totals), BENCH_MAX_SITES, 0, &t.totals_fd);
	if (!err)
		err = create_map(BPF_MAP_TYPE_HASH, "stacks", sizeof(__u64),
				 BENCH_STACK_DEPTH * sizeof(__u64), o.stacks, 0, &t.stacks_fd);
	if (!err)
		err = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, "stats", sizeof(__u32),
				 sizeof(struct kleak_stats), KLEAK_STATS_SLOTS, 0, &t.stats_fd);
	if (!err)
		err = fill_maps(&t, &o);
	if (!err)
		err = tracer__map_buckets(&t);
	if (!err && (o.tasks || o.files || o.maps)) {
		err = hold_tasks_files(&o);
		if (!err)
			err = time_classify(&t, &o);
		goto cleanup;
	}
	for (fmt = FORMAT_TEXT; !err && fmt <= FORMAT_SVG; fmt++)
		err = time_report(&t, &o, &(struct bench_output){ .fmt = fmt, .out = null },
				  &ms[fmt]);
	if (err)
		goto cleanup;
	printf("allocs %llu\nsites %llu\nstacks %llu\nruns %llu\n", (unsigned long long)o.allocs,
	       (unsigned long long)o.sites, (unsigned long long)o.stacks,
	       (unsigned long long)o.runs);
	for (fmt = FORMAT_TEXT; fmt <= FORMAT_SVG; fmt++)
		printf("report_1m%s_ms %.0f\n", names[fmt], ms[fmt]);
	fflush(stdout);
	err = watch_rss(&t, &o, null);
	if (!err)
		err = bench_metrics(&t, &o);
cleanup:
	tracer__unmap_buckets(&t);
	if (t.allocs_fd >= 0)
		close(t.allocs_fd);
	if (t.totals_fd >= 0)
		close(t.totals_fd);
	if (t.stacks_fd >= 0)
		close(t.stacks_fd);
	if (t.stats_fd >= 0)
		close(t.stats_fd);
	kleak_bpf__destroy(t.skel);
	fclose(null);
	return err ? 1 : 0;
}
