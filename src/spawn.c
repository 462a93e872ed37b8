// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Fork now, exec later. The child blocks on a pipe until the tracer is
 * attached; an exec failure comes back through a close-on-exec pipe, whose
 * EOF alone means exec succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "log.h"
#include "spawn.h"

static void child(char **argv, int go_fd, int err_fd)
{
	sigset_t none;
	int err;
	char c;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* EOF without a byte: kleak gave up before attaching */
	if (read(go_fd, &c, 1) != 1)
		_exit(EXIT_KLEAK_FAILED);
	close(go_fd);
	execvp(argv[0], argv);
	err = errno;
	if (write(err_fd, &err, sizeof(err)) != sizeof(err))
		_exit(EXIT_KLEAK_FAILED);
	_exit(err == ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_NOT_RUNNABLE);
}

int spawn__prepare(char **argv, struct spawn *sp)
{
	int go[2], ex[2], err;

	sp->pid = -1;
	sp->go_fd = sp->err_fd = -1;
	if (pipe2(go, O_CLOEXEC))
		goto err_pipe;
	if (pipe2(ex, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		goto err_pipe;
	}
	sp->pid = fork();
	if (sp->pid < 0) {
		err = -errno;
		pr_err("cannot fork for '%s': %s", argv[0], strerror(-err));
		close(go[0]);
		close(go[1]);
		close(ex[0]);
		close(ex[1]);
		return err;
	}
	if (sp->pid == 0) {
		close(go[1]);
		close(ex[0]);
		child(argv, go[0], ex[1]);
	}
	close(go[0]);
	close(ex[1]);
	sp->go_fd = go[1];
	sp->err_fd = ex[0];
	return 0;
err_pipe:
	err = -errno;
	pr_err("cannot create a pipe for '%s': %s", argv[0], strerror(-err));
	return err;
}

int spawn__start(struct spawn *sp, char **argv)
{
	ssize_t n;
	int err;

	if (write(sp->go_fd, "g", 1) != 1) {
		pr_err("cannot start '%s': %s", argv[0], strerror(errno));
		return EXIT_KLEAK_FAILED;
	}
	close(sp->go_fd);
	sp->go_fd = -1;
	do {
		n = read(sp->err_fd, &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	close(sp->err_fd);
	sp->err_fd = -1;
	if (n == 0)
		return 0;
	if (n != sizeof(err))
		err = EIO;
	pr_err("cannot run '%s': %s", argv[0], strerror(err));
	waitpid(sp->pid, NULL, 0);
	sp->pid = -1;
	return err == ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_NOT_RUNNABLE;
}

void spawn__abort(struct spawn *sp)
{
	if (!sp || sp->pid <= 0)
		return;
	/* closing the go pipe makes a held child exit on its own */
	if (sp->go_fd >= 0)
		close(sp->go_fd);
	if (sp->err_fd >= 0)
		close(sp->err_fd);
	sp->go_fd = sp->err_fd = -1;
	waitpid(sp->pid, NULL, 0);
	sp->pid = -1;
}

int spawn__exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_KLEAK_FAILED;
}
