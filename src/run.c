// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracing run as one epoll loop over a signalfd (Ctrl-C, SIGTERM,
 * SIGUSR1 for a report now, SIGCHLD for the command), timerfds (intervals,
 * --duration, --linger) and, with --trace, the ring buffer.
 */
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "ksyms.h"
#include "loader.h"
#include "caps.h"
#include "classify.h"
#include "log.h"
#include "meminfo.h"
#include "metrics.h"
#include "outfile.h"
#include "output.h"
#include "record.h"
#include "report.h"
#include "report_ustack.h"
#include "run.h"
#include "slabcache.h"
#include "snapshot.h"
#include "spawn.h"
#include "stackcache.h"
#include "status.h"
#include "ustack.h"

#define SLABINFO "/proc/slabinfo"
#define SLAB_SYSFS "/sys/kernel/slab"

struct run {
	const struct env *env;
	struct tracer *t;
	struct spawn sp;
	bool has_cmd;
	bool cmd_done;
	int cmd_status;
	struct model *base;	/* metadata and slabinfo at start */
	struct model *prev;	/* the last interval's model, for trends */
	struct ksyms *ks;	/* --trace only; reports reload kallsyms */
	__u64 intervals_left;
	bool at_interval_end;	/* the run ended with its last interval */
	bool hinted;		/* the task_struct hint was given */
	int sig_fd, interval_fd, end_fd, ep_fd;
	struct status *status;	/* NULL: no status line */
	int status_fd;		/* its one-second timer */
	/* template requests, and --trace events */
	struct ring_buffer *rb;
	struct stackcache sc;
	struct ustack *us;	/* --ustack, else NULL */
	int mmaps_fd;		/* --ustack=dwarf's mmap events, else -1 */
};

static char *read_line_file(const char *path)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

static int fill_meta(struct run *r, struct tracer *t)
{
	struct model_meta *mm = &r->base->meta;
	struct utsname u;
	char host[256] = "";

	uname(&u);
	gethostname(host, sizeof(host) - 1);
	mm->version = strdup(KLEAK_VERSION);
	mm->kernel = strdup(u.release);
	mm->hostname = strdup(host);
	mm->boot_id = read_line_file("/proc/sys/kernel/random/boot_id");
	mm->cmdline = strdup(r->env->cmdline);
	mm->filters = opts__filters_str(r->env);
	mm->attach = strdup(t->attach);
	mm->start_s = time(NULL);
	mm->sample_rate = r->env->sample_rate;
	mm->interval_s = r->env->interval_s;
	mm->raw_addresses = r->env->raw_addresses;
	/* as report_now() prints, so that kleak report prints the saved run alike */
	mm->report_saved = true;
	mm->older_ms = r->env->older_ms;
	mm->top = r->env->top;
	mm->caches = !r->env->no_caches;
	mm->exclude = r->env->exclude ? strdup(r->env->exclude) : NULL;
	mm->cache = r->env->cache ? strdup(r->env->cache) : NULL;
	mm->max_allocs = r->env->max_allocs;
	mm->max_sites = r->env->max_sites;
	if (!mm->version || !mm->kernel || !mm->hostname || !mm->boot_id || !mm->cmdline ||
	    !mm->filters || !mm->attach || (r->env->exclude && !mm->exclude) ||
	    (r->env->cache && !mm->cache))
		return -ENOMEM;
	return 0;
}

static int copy_meta(const struct model_meta *from, struct model_meta *to)
{
	*to = *from;
	to->version = strdup(from->version);
	to->kernel = strdup(from->kernel);
	to->hostname = strdup(from->hostname);
	to->boot_id = strdup(from->boot_id);
	to->cmdline = strdup(from->cmdline);
	to->filters = strdup(from->filters);
	to->attach = strdup(from->attach);
	to->exclude = from->exclude ? strdup(from->exclude) : NULL;
	to->cache = from->cache ? strdup(from->cache) : NULL;
	to->end_s = time(NULL);
	if (!to->version || !to->kernel || !to->hostname || !to->boot_id || !to->cmdline ||
	    !to->filters || !to->attach || (from->exclude && !to->exclude) ||
	    (from->cache && !to->cache))
		return -ENOMEM;
	return 0;
}

static int hidden_kallsyms_error(void)
{
	pr_err("kernel addresses are hidden in /proc/kallsyms (kernel.kptr_restrict, or not "
	       "root%s): stacks cannot be symbolized",
	       caps__effective(CAP_SYSLOG) ? "" : ": CAP_SYSLOG missing");
	return -EPERM;
}

/* Builds the model of now; kallsyms is read again so reloaded modules resolve. */
static int build_model(struct run *r, bool interval_end, struct model **out)
{
	struct ksyms *ks = NULL;
	struct model *m;
	size_t i;
	int err, merged_err;

	m = model__new();
	if (!m)
		return -ENOMEM;
	err = copy_meta(&r->base->meta, &m->meta);
	for (i = 0; !err && i < r->base->n_slabs; i++) {
		struct model_slab *s = model__add_slab(m);

		if (!s)
			err = -ENOMEM;
		else
			*s = r->base->slabs[i];
	}
	if (err)
		goto err_out;
	slabcache__read_slabinfo(SLABINFO, m, true);
	memcpy(m->kcounters, r->base->kcounters, sizeof(m->kcounters));
	meminfo__read(m, true);
	ks = ksyms__load();
	if (!ks && errno == EPERM) {
		err = hidden_kallsyms_error();
		goto err_out;
	}
	if (!ks)
		pr_warn("cannot read /proc/kallsyms: %s; frames stay raw", strerror(errno));
	/* processes announced since the last wakeup get their mappings read first */
	if (r->us && r->rb)
		ring_buffer__consume(r->rb);
	err = snapshot__take(r->t, ks, m);
	/* without SLUB's sysfs no cache is named as merged: nothing else is lost */
	merged_err = err ? 0 : slabcache__read_merged(SLAB_SYSFS, m);
	if (merged_err)
		pr_debug("cannot read the merged caches in %s: %s", SLAB_SYSFS,
			 strerror(-merged_err));
	if (!err && r->env->exclude)
		model__drop_sites(m, &r->env->exclude_re);
	if (!err)
		err = classify__model(r->t, m);
	if (!err && r->env->held_by)
		model__keep_held(m, r->env->held_class);
	if (!err && r->env->interval_s)
		err = snapshot__carry_trend(r->prev, m, interval_end);
	ksyms__free(ks);
	if (err)
		goto err_out;
	*out = m;
	return 0;
err_out:
	model__free(m);
	return err;
}

/* Whether some site of m allocates under copy_process, where fork allocates a child. */
static bool has_fork_site(const struct model *m)
{
	static const char fork_frame[] = "copy_process+";
	size_t i, j;

	for (i = 0; i < m->n_sites; i++)
		for (j = 0; j < m->sites[i].n_frames; j++)
			if (m->sites[i].frames[j].sym &&
			    !strncmp(m->sites[i].frames[j].sym, fork_frame, sizeof(fork_frame) - 1))
				return true;
	return false;
}

/*
 * -c and -p select the allocating task, and fork allocates a process's
 * task_struct (and the rest copy_process makes for it) in its parent: users
 * chasing task_struct under -c see none of their processes' own. Said once
 * per run, where a run that could have recorded what fork allocates (no
 * --cache, or --cache task_struct) recorded none of it.
 */
static void hint_parent(struct run *r, const struct model *m)
{
	const struct env *env = r->env;

	if (r->hinted || !(env->comm || env->pid) || env->command)
		return;
	if ((env->cache && strcmp(env->cache, "task_struct")) || has_fork_site(m))
		return;
	r->hinted = true;
	pr_info("hint: fork allocates a process's task_struct (copy_process) in its parent, "
		"which %s does not select: trace the parent (-c NAME, or -p PPID --follow) or "
		"run the command under kleak (kleak -- COMMAND)", env->pid ? "-p" : "-c");
}

enum report_kind {
	REPORT_INTERVAL,	/* the end of an interval: a point of every trend */
	REPORT_ASKED,		/* SIGUSR1 */
	REPORT_FINAL,
};

static int report_now(struct run *r, enum report_kind kind)
{
	const struct env *env = r->env;
	struct report_opts ro = {
		.older_ms = env->older_ms,
		.top = env->top,
		.min_size = 0,
		.max_size = ~0ULL,
		.json = env->json,
		.caches = !env->no_caches,
		.raw_addresses = env->raw_addresses,
	};
	struct model *m;
	int err, merr = 0, werr = 0;

	status__clear(r->status);
	err = build_model(r, kind == REPORT_INTERVAL || (kind == REPORT_FINAL && r->at_interval_end),
			  &m);
	if (err)
		return err;
	/* each output on its own: a closed stdout loses neither the metrics nor the run */
	err = output__report(env, m, &ro, NULL);
	if (!err)
		hint_parent(r, m);
	if (env->metrics_path)
		merr = metrics__write(m, env->top, env->metrics_path);
	if (kind == REPORT_FINAL && env->write_path)
		werr = record__write(m, env->write_path);
	err = err ? err : merr ? merr : werr;
	if (kind == REPORT_INTERVAL) {
		model__free(r->prev);
		r->prev = m;
	} else {
		model__free(m);
	}
	return err;
}

/* -t --ustack: the event's user frames under its kernel frames, then s freed. */
static int trace_user_frames(struct run *r, const struct kleak_site *site,
			     const struct kleak_event *e, struct model_site *s)
{
	int err = 0;

	if (r->us)
		err = ustack__fill_event(r->us, site, e->addr, e->alloc.ts_ns, s);
	/* samples are read before events: one not read yet comes with a later wakeup */
	if (!err && s->ustate == KLEAK_USTACK_SAMPLED)
		puts("\t[user stack not unwound yet: its sample is not read]");
	else if (!err)
		report_ustack__text(s, stdout);
	model_site__clear(s);
	return err;
}

static int on_event(void *arg, void *data, size_t len)
{
	const struct kleak_event *e = data;
	const struct kleak_alloc *a = &e->alloc;
	struct run *r = arg;
	struct kleak_site_totals tot;
	struct model_site s = {};
	__u64 unresolved = 0;
	struct timespec ts;
	char now[16];
	size_t i;

	if (len < sizeof(*e))
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	report__fmt_clock(&ts, now, sizeof(now));
	/* the site was created before the event was sent */
	if (bpf_map_lookup_elem(r->t->totals_fd, &a->site, &tot)) {
		memset(&tot, 0, sizeof(tot));
		tot.site.stack_err = -ENOENT;
	}
	if (e->type == KLEAK_EVENT_FREE) {
		/* the free's own stack is not walked: that would double the cost of -t */
		printf("%s free  0x%llx %llu B by %s[%u], allocated %.3f s before by %s[%u]\n",
		       now, (unsigned long long)e->addr,
		       (unsigned long long)tot.obj_size, e->free_comm, e->free_pid,
		       (e->free_ts_ns - a->ts_ns) / 1e9, a->comm, a->pid);
		return 0;
	}
	if (!tot.site.stack_err &&
	    snapshot__symbolize(r->t, r->ks, tot.site.stack, &s, &unresolved))
		return 0;
	printf("%s alloc 0x%llx %llu B by %s[%u] in %s\n", now,
	       (unsigned long long)e->addr, (unsigned long long)tot.obj_size,
	       a->comm, a->pid, tot.site.stack_err ? "?" : model__ctx_name(snapshot__ctx(&s)));
	if (tot.site.stack_err)
		printf("\t[stack not captured: %s]\n", model__stack_err_str(tot.site.stack_err));
	for (i = 0; i < s.n_frames; i++) {
		if (s.frames[i].sym)
			printf("\t%s\n", s.frames[i].sym);
		else if (r->env->raw_addresses)
			printf("\t0x%016llx\n", (unsigned long long)s.frames[i].addr);
		else
			printf("\t?\n");
	}
	return trace_user_frames(r, &tot.site, e, &s);
}

static int arm_timer(int fd, __u64 first_s, __u64 period_s)
{
	struct itimerspec its = {
		.it_value.tv_sec = first_s,
		.it_interval.tv_sec = period_s,
	};

	/* a zero it_value disarms: fire at once instead */
	if (!first_s)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

static int add_fd(struct run *r, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(r->ep_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int add_ring(struct run *r, int fd, ring_buffer_sample_fn fn, void *ctx)
{
	if (r->rb)
		return ring_buffer__add(r->rb, fd, fn, ctx);
	r->rb = ring_buffer__new(fd, fn, ctx, NULL);
	return r->rb ? 0 : -errno;
}

static int setup_loop(struct run *r)
{
	const struct env *env = r->env;
	int err;

	r->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	r->interval_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	r->end_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (r->ep_fd < 0 || r->interval_fd < 0 || r->end_fd < 0)
		return -errno;
	if ((err = add_fd(r, r->sig_fd)) || (err = add_fd(r, r->interval_fd)) ||
	    (err = add_fd(r, r->end_fd)))
		return err;
	if (env->interval_s && (err = arm_timer(r->interval_fd, env->interval_s, env->interval_s)))
		return err;
	if (env->duration_s && (err = arm_timer(r->end_fd, env->duration_s, 0)))
		return err;
	r->status = status__new(env, r->t, tracer__now_ns());
	if (r->status) {
		r->status_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (r->status_fd < 0)
			return -errno;
		if ((err = add_fd(r, r->status_fd)) || (err = arm_timer(r->status_fd, 1, 1)))
			return err;
	}
	r->sc.t = r->t;
	if (r->t->tpl_requests_fd >= 0)
		err = add_ring(r, r->t->tpl_requests_fd, stackcache__on_request, &r->sc);
	/* each wakeup consumes the rings in this order: -t's events find their stacks read */
	if (!err && r->us)
		err = add_ring(r, r->t->ustack_procs_fd, ustack__on_proc, r->us);
	if (!err && r->us && r->t->ustack_samples_fd >= 0)
		err = add_ring(r, r->t->ustack_samples_fd, ustack__on_sample, r->us);
	if (!err && r->t->events_fd >= 0)
		err = add_ring(r, r->t->events_fd, on_event, r);
	if (!err && r->rb)
		err = add_fd(r, ring_buffer__epoll_fd(r->rb));
	/* --ustack=dwarf: each new mapping's file read while its process lives */
	r->mmaps_fd = r->us ? ustack__mmaps_fd(r->us) : -1;
	if (!err && r->mmaps_fd >= 0)
		err = add_fd(r, r->mmaps_fd);
	return err;
}

/* The command exited: wait --linger for deferred frees, then end. */
static int on_sigchld(struct run *r)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		if (!r->has_cmd || pid != r->sp.pid)
			continue;
		r->cmd_done = true;
		r->cmd_status = spawn__exit_status(wstatus);
		pr_debug("command exited with status %d; lingering %llu s", r->cmd_status,
			 (unsigned long long)r->env->linger_s);
		return arm_timer(r->end_fd, r->env->linger_s, 0);
	}
	return 0;
}

/* Returns 1 when the run is over, 0 to go on, -errno on failure. */
static int on_signal(struct run *r, bool *interrupted)
{
	struct signalfd_siginfo si;

	if (read(r->sig_fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	switch (si.ssi_signo) {
	case SIGCHLD:
		return on_sigchld(r);
	case SIGUSR1:
		return report_now(r, REPORT_ASKED);
	default:
		/* first Ctrl-C with a command running: let the command end, then report */
		if (r->has_cmd && !r->cmd_done && !*interrupted) {
			*interrupted = true;
			kill(r->sp.pid, si.ssi_signo);
			return 0;
		}
		return 1;
	}
}

static int loop(struct run *r)
{
	struct epoll_event evs[4];
	bool interrupted = false;
	__u64 ticks;
	int n, i, err = 0;

	for (;;) {
		n = epoll_wait(r->ep_fd, evs, 4, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == r->sig_fd) {
				err = on_signal(r, &interrupted);
			} else if (fd == r->end_fd) {
				return 0;
			} else if (fd == r->status_fd) {
				if (read(fd, &ticks, sizeof(ticks)) == sizeof(ticks))
					status__update(r->status);
			} else if (fd == r->interval_fd) {
				if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks))
					continue;
				if (r->intervals_left && --r->intervals_left == 0) {
					r->at_interval_end = true;
					return 0;
				}
				err = report_now(r, REPORT_INTERVAL);
			} else if (fd == r->mmaps_fd) {
				err = ustack__on_mmaps(r->us);
			} else if (r->rb) {
				err = ring_buffer__consume(r->rb);
				err = err < 0 ? err : 0;
			}
			if (err)
				return err < 0 ? err : 0;
		}
	}
}

static void run_free(struct run *r)
{
	status__free(r->status);
	if (r->status_fd >= 0)
		close(r->status_fd);
	ring_buffer__free(r->rb);
	tracer__free(r->t);
	ustack__free(r->us);
	model__free(r->base);
	model__free(r->prev);
	ksyms__free(r->ks);
	if (r->ep_fd >= 0)
		close(r->ep_fd);
	if (r->interval_fd >= 0)
		close(r->interval_fd);
	if (r->end_fd >= 0)
		close(r->end_fd);
	if (r->sig_fd >= 0)
		close(r->sig_fd);
}

/*
 * --pid names a live process by its process id: a thread's id, a process
 * gone or exited (a zombie) would trace nothing for the whole run.
 */
static int check_pid(__u32 pid)
{
	char path[64], line[256], state = '?';
	long tgid = -1;
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("--pid %u: no such process", pid);
		else
			pr_err("--pid %u: cannot read %s: %s", pid, path, strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "State: %c", &state);
		sscanf(line, "Tgid: %ld", &tgid);
	}
	fclose(f);
	if (tgid > 0 && tgid != (long)pid) {
		pr_err("--pid %u is a thread of process %ld: give the process id", pid, tgid);
		return -EINVAL;
	}
	if (state == 'Z' || state == 'X') {
		pr_err("--pid %u has exited (a zombie not yet reaped): it allocates nothing", pid);
		return -ESRCH;
	}
	return 0;
}

static int start(struct run *r)
{
	const struct env *env = r->env;
	int err;

	r->t = tracer__start(env, r->has_cmd ? r->sp.pid : 0);
	if (!r->t)
		return -errno;
	if (env->ustack != USTACK_OFF) {
		r->us = ustack__new(r->t);
		if (!r->us)
			return -errno;
		r->t->ustack = r->us;
	}
	/* before the command runs, so that its exec's mappings are seen */
	if (env->ustack == USTACK_DWARF &&
	    (err = ustack__watch_mmaps(r->us, r->has_cmd ? r->sp.pid : env->pid ? (pid_t)env->pid : -1)))
		pr_warn("no mmap events (%s): mappings are read from /proc/PID/maps, and those of "
			"processes that exit first are missed", strerror(-err));
	/* fail now, not after the run, when stacks could never be symbolized */
	r->ks = ksyms__load();
	if (!r->ks)
		return errno == EPERM ? hidden_kallsyms_error() : -errno;
	if (!env->trace) {
		ksyms__free(r->ks);
		r->ks = NULL;
	}
	r->base = model__new();
	if (!r->base)
		return -ENOMEM;
	err = fill_meta(r, r->t);
	if (err)
		return err;
	if (slabcache__read_slabinfo(SLABINFO, r->base, false))
		pr_warn("cannot read %s: the per-cache summary has no slabinfo column", SLABINFO);
	err = meminfo__read(r->base, false);
	if (err)
		pr_warn("cannot read /proc/meminfo or /proc/vmstat: %s; the per-allocator summary "
			"lacks their counters", strerror(-err));
	err = setup_loop(r);
	if (err) {
		pr_err("failed to set up the event loop: %s", strerror(-err));
		return err;
	}
	return 0;
}

int run__trace(const struct env *env)
{
	struct run r = {
		.env = env,
		.has_cmd = env->command != NULL,
		.intervals_left = env->count,
		.sig_fd = -1, .interval_fd = -1, .end_fd = -1, .ep_fd = -1, .status_fd = -1,
		.mmaps_fd = -1,
	};
	int fail = r.has_cmd ? EXIT_KLEAK_FAILED : 1;
	sigset_t mask;
	int err, status;

	setlinebuf(stdout);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (r.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		pr_err("failed to set up signal handling: %s", strerror(errno));
		return fail;
	}
	if (env->pid && check_pid(env->pid))
		return fail;
	/* a run file that cannot be written is refused now, not after the run */
	if (env->write_path && outfile__check(env->write_path, "run file"))
		return fail;
	if (env->metrics_path && outfile__check(env->metrics_path, "metrics file"))
		return fail;
	if (output__check(env))
		return fail;
	if (r.has_cmd && spawn__prepare(env->command, &r.sp))
		return fail;
	err = start(&r);
	if (err) {
		spawn__abort(r.has_cmd ? &r.sp : NULL);
		run_free(&r);
		return fail;
	}
	if (r.has_cmd) {
		status = spawn__start(&r.sp, env->command);
		if (status) {
			run_free(&r);
			return status;
		}
	}
	/* tests and scripts wait for this line: it comes once everything is attached */
	pr_info("tracing kernel allocations (%s; filters: %s); %s", r.t->attach,
		r.base->meta.filters, r.has_cmd ? "running the command" : "Ctrl-C to stop");
	err = loop(&r);
	/* the final report's books are exact: nothing runs while it reads */
	tracer__detach(r.t);
	if (!err)
		err = report_now(&r, REPORT_FINAL);
	pr_debug("stack templates: %llu built, %llu refused", (unsigned long long)r.sc.built,
		 (unsigned long long)r.sc.refused);
	if (r.has_cmd && !r.cmd_done) {
		/* the run ended before the command did: the status says kleak cut it short */
		kill(r.sp.pid, SIGTERM);
		waitpid(r.sp.pid, &status, 0);
		r.cmd_status = spawn__exit_status(status);
	}
	run_free(&r);
	if (err)
		return fail;
	return r.has_cmd ? r.cmd_status : 0;
}
