/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * "kleak -- CMD ARGS...": the command is forked before the tracer loads (its
 * pid is part of the BPF configuration) and held before exec until the
 * tracer is attached, so its first allocation is already seen.
 */
#ifndef __KLEAK_SPAWN_H
#define __KLEAK_SPAWN_H

#include <sys/types.h>

/* Exit statuses of kleak in command mode, as timeout(1) and env(1) use them. */
#define EXIT_KLEAK_FAILED	125
#define EXIT_CMD_NOT_RUNNABLE	126
#define EXIT_CMD_NOT_FOUND	127

struct spawn {
	pid_t pid;
	int go_fd;	/* written once to let the child exec */
	int err_fd;	/* the child's execvp errno, or EOF on success */
};

/* Forks the child, held before exec. Returns 0 or -errno (one line printed). */
int spawn__prepare(char **argv, struct spawn *sp);
/*
 * Lets the child exec argv. Returns 0 once exec succeeded, or the exit
 * status kleak should end with when it failed (one line printed).
 */
int spawn__start(struct spawn *sp, char **argv);
/* Kills and reaps a child that was never started; NULL-safe. */
void spawn__abort(struct spawn *sp);
/* The exit status to report for a wait status of the command. */
int spawn__exit_status(int wstatus);

#endif /* __KLEAK_SPAWN_H */
