// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kleak-workload: hold a known number of kernel slab objects (and pages,
 * vmap areas, percpu allocations) on demand, for kleak's tests and
 * benchmarks. Each KIND makes COUNT kernel allocations and
 * keeps them until release; "held KIND COUNT" lines and "ready" on stdout say
 * when they are all outstanding, "released" when they have been given back.
 * Synchronisation is by pipes, wait calls and signalfd only, never sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <linux/perf_event.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define PROG "kleak-workload"
#define COUNT_DEFAULT 100ULL
#define COUNT_MAX 1000000ULL
#define COMM_DEFAULT "kleak-wl"
#define COMM_MAX 15 /* TASK_COMM_LEN - 1 */
/* stdio, signalfd, the --detach pipe, the tcp listener, churn's transients, inherited fds */
#define FD_SLACK 64
/* Connections per loopback source address, below the ~28k ephemeral ports of one address. */
#define TCP_PER_SADDR 16384
#define CHURN_FORK_EVERY 16
/*
 * A BPF array of 64 KiB: bpf_map_area_alloc() takes vmalloc above
 * PAGE_SIZE << PAGE_ALLOC_COSTLY_ORDER (32 KiB), so each map is one vmap
 * area of 64 KiB and a guard page.
 */
#define VMALLOC_MAP_ENTRIES 8192
#define VMALLOC_MAP_VALUE 8
#define PAGE_BYTES 4096
#define THP_BYTES (2UL << 20)

enum kind {
	KIND_ZOMBIES,
	KIND_FILES,
	KIND_TCP,
	KIND_PIPES,
	KIND_CHURN,
	KIND_PIPEPAGES,
	KIND_VMALLOC,
	KIND_PERCPU,
	KIND_ANON,
	KIND_THPSPLIT,
	KIND_SLEEPERS,
	KIND_REAPED,
	KIND_INFLIGHT,
	KIND_ORPHANS,
	KIND_MAPPED,
	KIND_UNIX,
	KIND_UDP,
	KIND_EXITSIGS,
	KIND_MAX,
};

static const char *const kind_names[KIND_MAX] = {
	[KIND_ZOMBIES] = "zombies",
	[KIND_FILES] = "files",
	[KIND_TCP] = "tcp",
	[KIND_PIPES] = "pipes",
	[KIND_CHURN] = "churn",
	[KIND_PIPEPAGES] = "pipepages",
	[KIND_VMALLOC] = "vmalloc",
	[KIND_PERCPU] = "percpu",
	[KIND_ANON] = "anon",
	[KIND_THPSPLIT] = "thpsplit",
	[KIND_SLEEPERS] = "sleepers",
	[KIND_REAPED] = "reaped",
	[KIND_INFLIGHT] = "inflight",
	[KIND_ORPHANS] = "orphans",
	[KIND_MAPPED] = "mapped",
	[KIND_UNIX] = "unix",
	[KIND_UDP] = "udp",
	[KIND_EXITSIGS] = "exitsigs",
};

/* Kernel-side handles held per unit of COUNT: child pids or file descriptors. */
static const unsigned int kind_ids[KIND_MAX] = {
	[KIND_ZOMBIES] = 1,
	[KIND_FILES] = 1,
	[KIND_TCP] = 2,
	[KIND_PIPES] = 2,
	[KIND_CHURN] = 0,
	[KIND_PIPEPAGES] = 2,
	[KIND_VMALLOC] = 1,
	[KIND_PERCPU] = 1,
	[KIND_ANON] = 0,
	[KIND_THPSPLIT] = 0,
	[KIND_SLEEPERS] = 1,
	[KIND_REAPED] = 1,
	/* the socketpair; the files in flight need as many fds while they are sent */
	[KIND_INFLIGHT] = 2,
	/* the accepted ends, and the listener */
	[KIND_ORPHANS] = 2,
	/* mapped holds mappings, no fd; each is opened, mapped and closed in turn */
	[KIND_MAPPED] = 0,
	[KIND_UNIX] = 2,
	[KIND_UDP] = 1,
};

/* Kinds whose ids are child pids, reaped on release. */
static bool holds_pids(enum kind kind)
{
	return kind == KIND_ZOMBIES || kind == KIND_SLEEPERS;
}

/* Files sent per SCM_RIGHTS message, below the kernel's SCM_MAX_FD (253). */
#define INFLIGHT_PER_MSG 250

enum {
	OPT_WAIT = 1000,
	OPT_DETACH,
};

struct env {
	unsigned long long count;
	const char *comm;
	bool wait;
	bool detach;
	enum kind kinds[KIND_MAX];
	int nr_kinds;
};

/*
 * What one kind holds: n valid entries of ids, pids for zombies and fds
 * otherwise; anon's pages are a mapping of mem_len bytes at mem.
 */
struct hold {
	enum kind kind;
	int *ids;
	size_t n;
	void *mem;
	size_t mem_len;
};

static const char usage[] =
	"Usage: " PROG " [-c COUNT] [-n COMM] [--wait] [--detach] KIND...\n"
	"Hold COUNT kernel objects of each KIND, print 'held KIND COUNT' per kind and 'ready',\n"
	"then release them and print 'released'.\n"
	"\n"
	"KIND:\n"
	"  zombies   COUNT exited, unreaped children\n"
	"  files     COUNT open file descriptors on /dev/null\n"
	"  tcp       COUNT loopback TCP connections, both ends held\n"
	"  pipes     COUNT pipe pairs\n"
	"  churn     COUNT rounds of open/pipe (a page written)/socket and close; a fork and\n"
	"            two BPF maps (a vmap area, a percpu allocation) every 16; holds nothing\n"
	"  pipepages COUNT pipes holding one unread page each (kernel pages, order 0)\n"
	"  vmalloc   COUNT BPF arrays of 64 KiB (one vmap area each; root)\n"
	"  percpu    COUNT per-CPU BPF arrays of one 8-byte value (one percpu allocation each; root)\n"
	"  anon      COUNT anonymous pages written (user pages from page faults)\n"
	"  thpsplit  COUNT transparent huge pages written, then split into base pages\n"
	"  sleepers  COUNT children sleeping until release\n"
	"  reaped    COUNT children exited and reaped, each still referenced by a perf event\n"
	"            fd (perf_event_open on the child) until release\n"
	"  inflight  COUNT files on /dev/null sent over a UNIX socketpair (SCM_RIGHTS) and\n"
	"            closed, the message unread: files in no fd table until release\n"
	"  orphans   COUNT loopback TCP connections closed with unsent data to a peer that\n"
	"            does not read: orphaned sockets; the peers' ends held\n"
	"  mapped    COUNT opens of this program's own file, each mapped and its fd closed:\n"
	"            files only a mapping holds, until release\n"
	"  unix      COUNT UNIX stream socketpairs, both ends held\n"
	"  udp       COUNT UDP sockets bound to 127.0.0.1\n"
	"  exitsigs  COUNT children exited with a real-time exit signal the parent blocks:\n"
	"            each exit's queued signal (struct sigqueue, allocated by the exiting\n"
	"            child after its sched_process_exit event); the children reaped\n"
	"\n"
	"  -c, --count=COUNT   objects per kind, 1..1000000 (default 100)\n"
	"  -n, --comm=COMM     process name, at most 15 characters (default " COMM_DEFAULT ")\n"
	"      --wait          hold until stdin reaches EOF or SIGTERM/SIGINT arrives\n"
	"      --detach        work in a grandchild; exit 0 once it is ready\n"
	"  -h, --help          show this help\n"
	"\n"
	"EXAMPLES:\n"
	"  " PROG " -c 200 files zombies --wait < fifo\n"
	"  " PROG " -n leaky --detach --wait tcp < fifo\n";

static void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void pr_err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool parse_count(const char *arg, unsigned long long *out)
{
	unsigned long long val;
	char *end;

	/* strtoull skips blanks and negates "-1" into a huge value: accept digits only. */
	if (arg[0] < '0' || arg[0] > '9')
		return false;
	errno = 0;
	val = strtoull(arg, &end, 10);
	if (errno || *end || val < 1 || val > COUNT_MAX)
		return false;
	*out = val;
	return true;
}

static bool add_kind(struct env *env, const char *name)
{
	int k, i;

	for (k = 0; k < KIND_MAX; k++)
		if (!strcmp(name, kind_names[k]))
			break;
	if (k == KIND_MAX) {
		pr_err("unknown kind '%s' (zombies, files, tcp, pipes, churn, pipepages, vmalloc, "
		       "percpu, anon, thpsplit, sleepers, reaped, inflight, orphans, mapped, unix, "
		       "udp or exitsigs)", name);
		return false;
	}
	for (i = 0; i < env->nr_kinds; i++) {
		if (env->kinds[i] == (enum kind)k) {
			pr_err("kind '%s' given twice", name);
			return false;
		}
	}
	env->kinds[env->nr_kinds++] = k;
	return true;
}

/* Returns -1 to go on, or the exit status: 0 after --help, EX_USAGE after one error line. */
static int parse_args(int argc, char **argv, struct env *env)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "comm", required_argument, NULL, 'n' },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "detach", no_argument, NULL, OPT_DETACH },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (!parse_count(optarg, &env->count)) {
				pr_err("invalid -c '%s': not an integer in 1..%llu", optarg, COUNT_MAX);
				return EX_USAGE;
			}
			break;
		case 'n':
			if (!optarg[0] || strlen(optarg) > COMM_MAX) {
				pr_err("invalid -n '%s': comm must be 1..%d characters", optarg, COMM_MAX);
				return EX_USAGE;
			}
			env->comm = optarg;
			break;
		case OPT_WAIT:
			env->wait = true;
			break;
		case OPT_DETACH:
			env->detach = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case ':':
			pr_err("option '%s' requires an argument", argv[optind - 1]);
			return EX_USAGE;
		default:
			/* optopt is a short option's letter, or a long option's val (--wait=3) */
			if (optopt > 0 && optopt < OPT_WAIT)
				pr_err("unknown option '-%c'", optopt);
			else
				pr_err("invalid option '%s'", argv[optind - 1]);
			return EX_USAGE;
		}
	}
	if (optind == argc) {
		pr_err("no KIND given (zombies, files, tcp, pipes, churn, sleepers, reaped, "
		       "inflight, orphans, mapped, unix or udp)");
		return EX_USAGE;
	}
	for (; optind < argc; optind++)
		if (!add_kind(env, argv[optind]))
			return EX_USAGE;
	return -1;
}

/* Held fds must not take 0-2: with stdout closed, "ready" would go into a held file. */
static int open_std_fds(void)
{
	int fd, err;

	for (;;) {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0) {
			err = -errno;
			pr_err("open /dev/null failed: %s", strerror(-err));
			return err;
		}
		if (fd > STDERR_FILENO) {
			close(fd);
			return 0;
		}
	}
}

/* Prints one line and flushes it, so a reader on a pipe sees it now. */
static int emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int emit(const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	err = errno ? -errno : -EIO;
	pr_err("write stdout failed: %s", strerror(-err));
	clearerr(stdout);
	return err;
}

static int setup_signals(bool wait, int *sfd)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t set;
	int err;

	/* An inherited SIG_IGN or SA_NOCLDWAIT on SIGCHLD would reap the zombies behind our back. */
	if (sigaction(SIGCHLD, &sa, NULL))
		goto fail;
	/* A vanished stdout reader is then a write error, reported and cleaned up. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		goto fail;
	if (!wait)
		return 0;
	/* Blocked from the start: a signal during setup releases right after "ready". */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		goto fail;
	*sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (*sfd < 0)
		goto fail;
	return 0;
fail:
	err = -errno;
	pr_err("signal setup failed: %s", strerror(-err));
	return err;
}

static int raise_nofile(const struct env *env)
{
	unsigned long long need = FD_SLACK;
	struct rlimit rl;
	int i, err;

	for (i = 0; i < env->nr_kinds; i++)
		if (!holds_pids(env->kinds[i]))
			need += kind_ids[env->kinds[i]] * env->count;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		goto fail;
	if (rl.rlim_cur >= need)
		return 0;
	rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		goto fail;
	return 0;
fail:
	err = -errno;
	pr_err("raise RLIMIT_NOFILE to %llu failed: %s", need, strerror(-err));
	return err;
}

static int hold_zombies(struct hold *h, size_t count)
{
	siginfo_t info;
	pid_t pid;
	size_t i;
	int err;

	for (i = 0; i < count; i++) {
		pid = fork();
		if (pid < 0) {
			err = -errno;
			pr_err("fork failed: %s", strerror(-err));
			return err;
		}
		if (pid == 0)
			_exit(0);
		h->ids[h->n++] = pid;
	}
	/* Exit is asynchronous: wait until each child is a zombie, leaving it unreaped. */
	for (i = 0; i < h->n; i++) {
		while (waitid(P_PID, h->ids[i], &info, WEXITED | WNOWAIT)) {
			if (errno == EINTR)
				continue;
			err = -errno;
			pr_err("waitid failed: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* /dev/null opens allocate one struct file and nothing else (procfs adds a seq_file). */
static int hold_files(struct hold *h, size_t count)
{
	int fd, err;

	while (h->n < count) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			pr_err("open /dev/null failed: %s", strerror(-err));
			return err;
		}
		h->ids[h->n++] = fd;
	}
	return 0;
}

static int hold_tcp(struct hold *h, size_t count)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct sockaddr_in src = { .sin_family = AF_INET };
	socklen_t len = sizeof(dst);
	const char *what;
	int lfd, fd, one = 1, err;
	size_t i;

	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		what = "socket";
		goto fail;
	}
	what = "listen on 127.0.0.1";
	if (bind(lfd, (struct sockaddr *)&dst, sizeof(dst)) || listen(lfd, SOMAXCONN) ||
	    getsockname(lfd, (struct sockaddr *)&dst, &len))
		goto fail;
	for (i = 0; i < count; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			what = "socket";
			goto fail;
		}
		h->ids[h->n++] = fd;
		/* Spread over 127.0.0.x sources; the port is still picked by connect(). */
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + i / TCP_PER_SADDR);
		what = "bind 127.0.0.x";
		if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
		    bind(fd, (struct sockaddr *)&src, sizeof(src)))
			goto fail;
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
			what = "connect to 127.0.0.1";
			goto fail;
		}
		/* Blocks until the handshake is done; the backlog never holds more than one. */
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			what = "accept";
			goto fail;
		}
		h->ids[h->n++] = fd;
	}
	close(lfd);
	return 0;
fail:
	err = -errno;
	pr_err("%s failed: %s", what, strerror(-err));
	if (lfd >= 0)
		close(lfd);
	return err;
}

static int make_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

static int make_unix_pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

/* count pairs of fds from make(), both ends held; what names make in errors */
static int hold_pairs(struct hold *h, size_t count, int (*make)(int fds[2]), const char *what)
{
	int fds[2], err;

	while (h->n < 2 * count) {
		if (make(fds)) {
			err = -errno;
			pr_err("%s failed: %s", what, strerror(-err));
			return err;
		}
		h->ids[h->n++] = fds[0];
		h->ids[h->n++] = fds[1];
	}
	return 0;
}

static int hold_pipes(struct hold *h, size_t count)
{
	return hold_pairs(h, count, make_pipe, "pipe2");
}

/* An empty pipe's first write takes one page (alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT)). */
static int hold_pipepages(struct hold *h, size_t count)
{
	static const char page[PAGE_BYTES];
	int err;

	while (h->n < 2 * count) {
		err = hold_pipes(h, h->n / 2 + 1);
		if (err)
			return err;
		if (write(h->ids[h->n - 1], page, sizeof(page)) != sizeof(page)) {
			err = errno ? -errno : -EIO;
			pr_err("pipe write failed: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Children that sleep until killed on release: live tasks. */
static int hold_sleepers(struct hold *h, size_t count)
{
	pid_t pid;
	int err;

	while (h->n < count) {
		pid = fork();
		if (pid < 0) {
			err = -errno;
			pr_err("fork failed: %s", strerror(-err));
			return err;
		}
		if (pid == 0) {
			for (;;)
				pause();
		}
		h->ids[h->n++] = pid;
	}
	return 0;
}

/*
 * A BPF map, by the raw syscall: the workload links nothing but libc.
 * Kernels before 5.11 charge maps to RLIMIT_MEMLOCK, so it is lifted first
 * where it can be.
 */
static int hold_maps(struct hold *h, size_t count, __u32 type, __u32 entries, __u32 value)
{
	const struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	union bpf_attr attr;
	int fd, err;

	/* best effort: without CAP_SYS_RESOURCE it fails, and 5.11+ does not need it */
	setrlimit(RLIMIT_MEMLOCK, &unlimited);

	while (h->n < count) {
		memset(&attr, 0, sizeof(attr));
		attr.map_type = type;
		attr.key_size = 4;
		attr.value_size = value;
		attr.max_entries = entries;
		fd = syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
		if (fd < 0) {
			err = -errno;
			pr_err("BPF map create failed: %s (root needed)", strerror(-err));
			return err;
		}
		h->ids[h->n++] = fd;
	}
	return 0;
}

/* A private anonymous mapping of len bytes, held in h until release. */
static int map_anon(struct hold *h, size_t len)
{
	int err;

	h->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->mem == MAP_FAILED) {
		h->mem = NULL;
		err = -errno;
		pr_err("mmap failed: %s", strerror(-err));
		return err;
	}
	h->mem_len = len;
	return 0;
}

/* Page faults on a private anonymous mapping, one base page each (no THP). */
static int hold_anon(struct hold *h, size_t count)
{
	size_t i;
	int err;

	err = map_anon(h, count * PAGE_BYTES);
	if (err)
		return err;
	madvise(h->mem, h->mem_len, MADV_NOHUGEPAGE);
	for (i = 0; i < count; i++)
		((volatile char *)h->mem)[i * PAGE_BYTES] = 1;
	return 0;
}

/*
 * A perf event on a task holds a reference to its task_struct
 * (event->hw.target) until the event is freed: children that exit and are
 * reaped while their events stay open are in no task list, yet allocated.
 */
static int hold_reaped(struct hold *h, size_t count)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.disabled = 1,
	};
	pid_t *pids = calloc(count, sizeof(*pids));
	const char *what = "pipe2";
	int gate[2] = { -1, -1 }, fd, err = 0;
	size_t i, n = 0;
	char c;

	if (!pids) {
		pr_err("allocate reaped table failed: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* the children wait on the gate until every event is open */
	if (pipe2(gate, O_CLOEXEC))
		goto fail;
	for (n = 0; n < count; n++) {
		what = "fork";
		pids[n] = fork();
		if (pids[n] < 0)
			goto fail;
		if (pids[n] == 0) {
			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		what = "perf_event_open on a child";
		fd = syscall(SYS_perf_event_open, &attr, pids[n], -1, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			kill(pids[n], SIGKILL);
			errno = -err;
			n++;
			goto fail;
		}
		h->ids[h->n++] = fd;
	}
	close(gate[1]);
	gate[1] = -1;
	goto reap;
fail:
	err = -errno;
	pr_err("%s failed: %s", what, strerror(-err));
	if (gate[1] >= 0)
		close(gate[1]);
	gate[1] = -1;
reap:
	for (i = 0; i < n; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	if (gate[0] >= 0)
		close(gate[0]);
	free(pids);
	return err;
}

/* Sends n fds in one SCM_RIGHTS message with a byte of data. */
static int send_fds(int sock, const int *fds, size_t n)
{
	char data = 'f', ctl[CMSG_SPACE(INFLIGHT_PER_MSG * sizeof(int))];
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cm;

	memset(ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* Files in flight: sent over a socketpair, closed here, never received. */
static int hold_inflight(struct hold *h, size_t count)
{
	int sv[2], fds[INFLIGHT_PER_MSG], err;
	size_t sent = 0, k, i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		err = -errno;
		pr_err("socketpair failed: %s", strerror(-err));
		return err;
	}
	h->ids[h->n++] = sv[0];
	h->ids[h->n++] = sv[1];
	while (sent < count) {
		k = count - sent < INFLIGHT_PER_MSG ? count - sent : INFLIGHT_PER_MSG;
		for (i = 0; i < k; i++) {
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fds[i] < 0) {
				err = -errno;
				pr_err("open /dev/null failed: %s", strerror(-err));
				while (i--)
					close(fds[i]);
				return err;
			}
		}
		err = send_fds(sv[0], fds, k);
		for (i = 0; i < k; i++)
			close(fds[i]);
		if (err) {
			pr_err("sendmsg SCM_RIGHTS failed: %s", strerror(-err));
			return err;
		}
		sent += k;
	}
	return 0;
}

/*
 * Huge pages (order 9) from page faults on a MADV_HUGEPAGE mapping, split
 * in place into 512 base pages each: MADV_COLD on all of a huge page but
 * its first base page splits it (madvise_cold_or_pageout_pte_range(): a
 * range that does not cover the whole PMD splits the folio). Freed, the
 * base pages go back one by one.
 */
static int hold_thpsplit(struct hold *h, size_t count)
{
	unsigned long start;
	size_t i;
	int err;

	/* one huge page more, to align the range to one */
	err = map_anon(h, (count + 1) * THP_BYTES);
	if (err)
		return err;
	start = ((unsigned long)h->mem + THP_BYTES - 1) & ~(THP_BYTES - 1);
	if (madvise((void *)start, count * THP_BYTES, MADV_HUGEPAGE)) {
		err = -errno;
		pr_err("madvise(MADV_HUGEPAGE) failed: %s (no transparent huge pages?)",
		       strerror(-err));
		return err;
	}
	for (i = 0; i < count; i++)
		((volatile char *)start)[i * THP_BYTES] = 1;
	for (i = 0; i < count; i++) {
		if (madvise((void *)(start + i * THP_BYTES + PAGE_BYTES), THP_BYTES - PAGE_BYTES,
			    MADV_COLD)) {
			err = -errno;
			pr_err("madvise(MADV_COLD) failed: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * Orphans: each client fills its connection until the peer, which never
 * reads, closes its window, then closes with the data still unsent. The
 * kernel keeps the sock (FIN_WAIT1, probing the zero window) with no
 * struct socket; the peers' ends and the listener stay open.
 */
static int hold_orphans(struct hold *h, size_t count)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	socklen_t len = sizeof(dst);
	int lfd, fd, afd, small = 4096, err;
	const char *what = "socket";
	static char buf[65536];
	size_t i;

	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		goto fail;
	h->ids[h->n++] = lfd;
	what = "listen on 127.0.0.1";
	/* accepted sockets inherit the small receive buffer */
	if (setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ||
	    bind(lfd, (struct sockaddr *)&dst, sizeof(dst)) || listen(lfd, SOMAXCONN) ||
	    getsockname(lfd, (struct sockaddr *)&dst, &len))
		goto fail;
	for (i = 0; i < count; i++) {
		what = "socket";
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		what = "connect to 127.0.0.1";
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) ||
		    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
			close(fd);
			goto fail;
		}
		what = "accept";
		afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (afd < 0) {
			close(fd);
			goto fail;
		}
		h->ids[h->n++] = afd;
		what = "fill the connection";
		if (fcntl(fd, F_SETFL, O_NONBLOCK)) {
			close(fd);
			goto fail;
		}
		while (write(fd, buf, sizeof(buf)) > 0)
			;
		if (errno != EAGAIN) {
			close(fd);
			goto fail;
		}
		close(fd);
	}
	return 0;
fail:
	err = -errno;
	pr_err("%s failed: %s", what, strerror(-err));
	return err;
}

/*
 * Files held by a mapping alone: each open of /proc/self/exe (this
 * program's file) is a struct file of its own, which its mapping keeps
 * after the fd is closed. The mappings are one region, unmapped on release.
 */
static int hold_mapped(struct hold *h, size_t count)
{
	const char *what = "mmap";
	char *p;
	size_t i;
	int fd, err;

	h->mem_len = count * PAGE_BYTES;
	h->mem = mmap(NULL, h->mem_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->mem == MAP_FAILED) {
		h->mem = NULL;
		goto fail;
	}
	for (i = 0; i < count; i++) {
		what = "open /proc/self/exe";
		fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		what = "mmap /proc/self/exe";
		p = mmap((char *)h->mem + i * PAGE_BYTES, PAGE_BYTES, PROT_READ,
			 MAP_PRIVATE | MAP_FIXED, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			goto fail;
	}
	return 0;
fail:
	err = -errno;
	pr_err("%s failed: %s", what, strerror(-err));
	return err;
}

static int hold_udp(struct hold *h, size_t count)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	const char *what;
	int fd, err;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (h->n < count) {
		what = "socket";
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		h->ids[h->n++] = fd;
		/* bound: in the UDP table, where the udp iterator finds it */
		what = "bind 127.0.0.1";
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
			goto fail;
	}
	return 0;
fail:
	err = -errno;
	pr_err("%s failed: %s", what, strerror(-err));
	return err;
}

/*
 * One BPF map of each kind hold_maps() makes for vmalloc and percpu,
 * closed at once; false without the privilege to make them, said once.
 */
static bool churn_maps(void)
{
	static const __u32 types[] = { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY };
	static const __u32 entries[] = { VMALLOC_MAP_ENTRIES, 1 };
	static const __u32 values[] = { VMALLOC_MAP_VALUE, 8 };
	struct hold h = {};
	int fd;
	size_t i;

	for (i = 0; i < 2; i++) {
		h.ids = &fd;
		h.n = 0;
		if (hold_maps(&h, 1, types[i], entries[i], values[i])) {
			pr_err("churn: going on without vmap areas and percpu allocations");
			return false;
		}
		close(fd);
	}
	return true;
}

/*
 * Every allocator kleak traces, made and freed in turn: a file, a pipe
 * whose buffer takes a page (its first write), a socket; every
 * CHURN_FORK_EVERY rounds a child, and a vmap area and a percpu
 * allocation (BPF maps, where allowed).
 */
static int run_churn(size_t count)
{
	bool maps = true;
	const char *what;
	int fd, fds[2], err;
	size_t i;
	pid_t pid;

	for (i = 0; i < count; i++) {
		what = "open /dev/null";
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		close(fd);
		what = "pipe2";
		if (pipe2(fds, O_CLOEXEC))
			goto fail;
		what = "pipe write";
		if (write(fds[1], "x", 1) != 1)
			goto fail;
		close(fds[0]);
		close(fds[1]);
		what = "socket";
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		close(fd);
		if (i % CHURN_FORK_EVERY)
			continue;
		if (maps)
			maps = churn_maps();
		what = "fork";
		pid = fork();
		if (pid < 0)
			goto fail;
		if (pid == 0)
			_exit(0);
		what = "waitpid";
		while (waitpid(pid, NULL, 0) < 0)
			if (errno != EINTR)
				goto fail;
	}
	return 0;
fail:
	err = -errno;
	pr_err("%s failed: %s", what, strerror(-err));
	return err;
}

/* The exit signal of exitsigs' children: real-time, so that every exit queues its own. */
static int exit_signal(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGRTMIN + 1);
	return SIGRTMIN + 1;
}

static int hold_exitsigs(size_t count)
{
	sigset_t set;
	int sig = exit_signal(&set), err;
	size_t i;
	long pid;

	if (sigprocmask(SIG_BLOCK, &set, NULL))
		goto fail;
	for (i = 0; i < count; i++) {
		/* fork() with another exit signal: the child only exits */
		pid = syscall(SYS_clone, sig, NULL, NULL, NULL, 0);
		if (pid < 0)
			goto fail;
		if (pid == 0)
			_exit(0);
		/* not SIGCHLD: waited for with __WCLONE */
		while (waitpid(pid, NULL, __WCLONE) < 0)
			if (errno != EINTR)
				goto fail;
	}
	return 0;
fail:
	err = -errno;
	pr_err("exitsigs: %s", strerror(-err));
	return err;
}

/* Takes every queued exit signal of exitsigs, which frees its sigqueue. */
static void release_exitsigs(void)
{
	const struct timespec now = { 0 };
	sigset_t set;

	exit_signal(&set);
	while (sigtimedwait(&set, NULL, &now) > 0)
		;
}

static int hold_kind(struct hold *h, enum kind kind, size_t count)
{
	int err;

	h->kind = kind;
	if (kind_ids[kind]) {
		h->ids = calloc(count * kind_ids[kind], sizeof(*h->ids));
		if (!h->ids) {
			err = -ENOMEM;
			pr_err("allocate %s table failed: %s", kind_names[kind], strerror(-err));
			return err;
		}
	}
	switch (kind) {
	case KIND_ZOMBIES:
		return hold_zombies(h, count);
	case KIND_FILES:
		return hold_files(h, count);
	case KIND_TCP:
		return hold_tcp(h, count);
	case KIND_PIPES:
		return hold_pipes(h, count);
	case KIND_CHURN:
		return run_churn(count);
	case KIND_PIPEPAGES:
		return hold_pipepages(h, count);
	case KIND_VMALLOC:
		return hold_maps(h, count, BPF_MAP_TYPE_ARRAY, VMALLOC_MAP_ENTRIES,
				 VMALLOC_MAP_VALUE);
	case KIND_PERCPU:
		return hold_maps(h, count, BPF_MAP_TYPE_PERCPU_ARRAY, 1, 8);
	case KIND_ANON:
		return hold_anon(h, count);
	case KIND_THPSPLIT:
		return hold_thpsplit(h, count);
	case KIND_SLEEPERS:
		return hold_sleepers(h, count);
	case KIND_REAPED:
		return hold_reaped(h, count);
	case KIND_INFLIGHT:
		return hold_inflight(h, count);
	case KIND_ORPHANS:
		return hold_orphans(h, count);
	case KIND_MAPPED:
		return hold_mapped(h, count);
	case KIND_UNIX:
		return hold_pairs(h, count, make_unix_pair, "socketpair");
	case KIND_UDP:
		return hold_udp(h, count);
	case KIND_EXITSIGS:
		return hold_exitsigs(count);
	default:
		return -EINVAL;
	}
}

/* Reaps or closes everything h holds; NULL-safe on a kind never started. */
static int release(struct hold *h)
{
	struct linger abort = { .l_onoff = 1, .l_linger = 0 };
	int err = 0;
	size_t i;

	if (h->kind == KIND_EXITSIGS)
		release_exitsigs();
	for (i = 0; i < h->n; i++) {
		if (!holds_pids(h->kind)) {
			/*
			 * Reset instead of FIN: no TIME_WAIT socket outlives "released",
			 * and a reset ends the orphans that still wait for a window.
			 */
			if (h->kind == KIND_TCP || h->kind == KIND_ORPHANS)
				setsockopt(h->ids[i], SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
			close(h->ids[i]);
			continue;
		}
		if (h->kind == KIND_SLEEPERS)
			kill(h->ids[i], SIGKILL);
		while (waitpid(h->ids[i], NULL, 0) < 0) {
			if (errno == EINTR)
				continue;
			if (!err) {
				err = -errno;
				pr_err("waitpid failed: %s", strerror(-err));
			}
			break;
		}
	}
	free(h->ids);
	h->ids = NULL;
	h->n = 0;
	if (h->mem && munmap(h->mem, h->mem_len) && !err) {
		err = -errno;
		pr_err("munmap failed: %s", strerror(-err));
	}
	h->mem = NULL;
	return err;
}

static int wait_for_release(int sfd)
{
	struct pollfd pfd[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
	};
	char buf[4096];
	ssize_t n;
	int err;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			pr_err("poll failed: %s", strerror(-err));
			return err;
		}
		if (pfd[1].revents)
			return 0;
		if (!pfd[0].revents)
			continue;
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR && errno != EAGAIN) {
			err = -errno;
			pr_err("read stdin failed: %s", strerror(-err));
			return err;
		}
	}
}

/* The worker: hold every kind, report, wait if asked, release. Returns the exit status. */
static int run(const struct env *env, int ready_fd)
{
	struct hold holds[KIND_MAX] = {};
	int i, sfd = -1, err, rel;

	err = setup_signals(env->wait, &sfd);
	if (!err)
		err = raise_nofile(env);
	for (i = 0; !err && i < env->nr_kinds; i++)
		err = hold_kind(&holds[i], env->kinds[i], env->count);
	for (i = 0; !err && i < env->nr_kinds; i++)
		err = emit("held %s %llu\n", kind_names[env->kinds[i]], env->count);
	if (!err)
		err = emit("ready\n");
	if (!err && ready_fd >= 0 && write(ready_fd, "r", 1) != 1) {
		err = -errno;
		pr_err("write ready pipe failed: %s", strerror(-err));
	}
	if (ready_fd >= 0)
		close(ready_fd);
	if (!err && env->wait)
		err = wait_for_release(sfd);
	for (i = env->nr_kinds - 1; i >= 0; i--) {
		rel = release(&holds[i]);
		if (!err)
			err = rel;
	}
	if (!err)
		err = emit("released\n");
	if (sfd >= 0)
		close(sfd);
	return err ? 1 : 0;
}

/*
 * Like fork(), but the worker is a grandchild: returns 0 in it with *ready_fd
 * the pipe end to report "ready" on, the intermediate child's pid in the
 * original with *ready_fd the other end, or -errno. The intermediate child
 * exits right after forking, so the worker outlives the original process.
 */
static pid_t detach(int *ready_fd)
{
	int fds[2], err;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC)) {
		err = -errno;
		pr_err("pipe2 failed: %s", strerror(-err));
		return err;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		pr_err("fork failed: %s", strerror(-err));
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid > 0) {
		close(fds[1]);
		*ready_fd = fds[0];
		return pid;
	}
	close(fds[0]);
	pid = fork();
	if (pid < 0) {
		pr_err("fork failed: %s", strerror(errno));
		_exit(1);
	}
	if (pid > 0)
		_exit(0);
	*ready_fd = fds[1];
	return 0;
}

/* In the original process: 0 once the worker said "ready", 1 if it failed (it said why). */
static int wait_detached(pid_t child, int ready_fd)
{
	int status, err;
	ssize_t n;
	char c;

	while (waitpid(child, &status, 0) < 0) {
		if (errno == EINTR)
			continue;
		err = -errno;
		pr_err("waitpid failed: %s", strerror(-err));
		close(ready_fd);
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		close(ready_fd);
		return 1;
	}
	while ((n = read(ready_fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		err = -errno;
		pr_err("read ready pipe failed: %s", strerror(-err));
	}
	close(ready_fd);
	return n == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct env env = { .count = COUNT_DEFAULT, .comm = COMM_DEFAULT };
	int ready_fd = -1, status, err;
	pid_t pid;

	status = parse_args(argc, argv, &env);
	if (status >= 0)
		return status;
	/* First, so that every allocation below is attributed to COMM. */
	if (prctl(PR_SET_NAME, env.comm)) {
		err = -errno;
		pr_err("prctl PR_SET_NAME failed: %s", strerror(-err));
		return 1;
	}
	if (open_std_fds())
		return 1;
	if (env.detach) {
		pid = detach(&ready_fd);
		if (pid < 0)
			return 1;
		if (pid > 0)
			return wait_detached(pid, ready_fd);
	}
	return run(&env, ready_fd);
}
