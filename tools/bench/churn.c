// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * churn WORKLOAD SECONDS: repeat one operation with a fixed kernel allocation
 * pattern for SECONDS and print "WORKLOAD OPS_PER_SEC" on stdout. Every
 * operation frees what it allocated, so a tracer's tables stay small and
 * what is measured is the per-event cost, not table growth.
 *
 *   open     open()/close() of a regular file (struct file, filename)
 *   socket   socket(AF_INET, SOCK_STREAM)/close() (sock, inode, file)
 *   tcp      loopback connect()/accept()/close() of both ends
 *   fork     fork()/_exit()/waitpid() (task, mm, files, signal, ...)
 *   getppid  a syscall that allocates nothing: the tracer's idle cost
 *
 * The process names itself BENCH_COMM so a tracer's comm filter can select
 * (or miss) it; forked children inherit the name.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_COMM "kleak-bench"
/* vDSO clock_gettime is ~20 ns: checked every 64 ops it costs < 1% of getppid */
#define CHECK_EVERY 64
#define MAX_SECONDS 3600

struct churn_ctx {
	char path[64];
	int listen_fd;
	struct sockaddr_in addr;
};

typedef int (*op_fn)(struct churn_ctx *ctx);

static void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void pr_err(const char *fmt, ...)
{
	va_list ap;

	fputs("churn: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int op_open(struct churn_ctx *ctx)
{
	int fd = open(ctx->path, O_RDONLY);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int op_socket(struct churn_ctx *ctx)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int op_tcp(struct churn_ctx *ctx)
{
	/*
	 * Reset instead of FIN: no TIME_WAIT socket outlives the operation,
	 * so the ephemeral port range never runs out and every operation
	 * allocates and frees the same objects.
	 */
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	int cfd, afd, err = 0;

	cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (cfd < 0)
		return -errno;
	if (connect(cfd, (struct sockaddr *)&ctx->addr, sizeof(ctx->addr))) {
		err = -errno;
		goto out_close_client;
	}
	afd = accept(ctx->listen_fd, NULL, NULL);
	if (afd < 0) {
		err = -errno;
		goto out_close_client;
	}
	if (setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)))
		err = -errno;
	close(afd);
out_close_client:
	close(cfd);
	return err;
}

static int op_fork(struct churn_ctx *ctx)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return 0;
}

static int op_getppid(struct churn_ctx *ctx)
{
	/* the raw syscall: glibc may not cache it, but make sure */
	syscall(SYS_getppid);
	return 0;
}

static int setup_open(struct churn_ctx *ctx)
{
	int fd, err;

	snprintf(ctx->path, sizeof(ctx->path), "/tmp/kleak-churn.XXXXXX");
	fd = mkstemp(ctx->path);
	if (fd < 0) {
		err = -errno;
		pr_err("failed to create %s: %s", ctx->path, strerror(-err));
		ctx->path[0] = '\0';
		return err;
	}
	close(fd);
	return 0;
}

static int setup_tcp(struct churn_ctx *ctx)
{
	socklen_t len = sizeof(ctx->addr);
	int err;

	ctx->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (ctx->listen_fd < 0) {
		err = -errno;
		pr_err("failed to create listening socket: %s", strerror(-err));
		return err;
	}
	ctx->addr.sin_family = AF_INET;
	ctx->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ctx->addr.sin_port = 0;
	if (bind(ctx->listen_fd, (struct sockaddr *)&ctx->addr, sizeof(ctx->addr)) ||
	    listen(ctx->listen_fd, 16) ||
	    getsockname(ctx->listen_fd, (struct sockaddr *)&ctx->addr, &len)) {
		err = -errno;
		pr_err("failed to listen on 127.0.0.1: %s", strerror(-err));
		return err;
	}
	return 0;
}

static const struct workload {
	const char *name;
	int (*setup)(struct churn_ctx *ctx);
	op_fn op;
} workloads[] = {
	{ "open", setup_open, op_open },
	{ "socket", NULL, op_socket },
	{ "tcp", setup_tcp, op_tcp },
	{ "fork", NULL, op_fork },
	{ "getppid", NULL, op_getppid },
};

static const struct workload *find_workload(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	}
	return NULL;
}

static int parse_seconds(const char *arg, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || *out < 1 || *out > MAX_SECONDS)
		return -EINVAL;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: churn open|socket|tcp|fork|getppid SECONDS\n");
}

int main(int argc, char **argv)
{
	struct churn_ctx ctx = { .listen_fd = -1 };
	const struct workload *w;
	unsigned long seconds, ops = 0, i;
	double start, deadline, elapsed;
	int err = 0;

	if (argc != 3) {
		usage();
		return 64;
	}
	w = find_workload(argv[1]);
	if (!w) {
		pr_err("invalid workload '%s': not one of open, socket, tcp, fork, getppid",
		       argv[1]);
		return 64;
	}
	if (parse_seconds(argv[2], &seconds)) {
		pr_err("invalid SECONDS '%s': not an integer in 1..%d", argv[2], MAX_SECONDS);
		return 64;
	}
	if (prctl(PR_SET_NAME, BENCH_COMM)) {
		err = -errno;
		pr_err("failed to set comm to %s: %s", BENCH_COMM, strerror(-err));
		goto cleanup;
	}
	if (w->setup) {
		err = w->setup(&ctx);
		if (err)
			goto cleanup;
	}

	start = now_sec();
	deadline = start + seconds;
	for (;;) {
		for (i = 0; i < CHECK_EVERY; i++) {
			err = w->op(&ctx);
			if (err) {
				pr_err("%s failed after %lu operations: %s", w->name, ops,
				       strerror(-err));
				goto cleanup;
			}
		}
		ops += CHECK_EVERY;
		if (now_sec() >= deadline)
			break;
	}
	elapsed = now_sec() - start;
	printf("%s %.0f\n", w->name, ops / elapsed);

cleanup:
	if (ctx.listen_fd >= 0)
		close(ctx.listen_fd);
	if (ctx.path[0])
		unlink(ctx.path);
	return err ? 1 : 0;
}
