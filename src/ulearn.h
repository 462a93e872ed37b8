/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack (fp): the call frame information the BPF walker has, binary by
 * binary. A binary's .eh_frame is compiled (ucfi.c) into the urows array,
 * which kleak maps, and published in the ubins map by build ID. It is
 * loaded before tracing for the binaries a run is sure to meet (the
 * command, and the C library and dynamic loader kleak's own parent maps),
 * and on the walker's request for any other, found through the requesting
 * process's /proc/PID/map_files or any live process that maps the same
 * file. Until then a walk that reaches such a binary stops there, counted.
 */
#ifndef __KLEAK_ULEARN_H
#define __KLEAK_ULEARN_H

#include <stddef.h>
#include <sys/types.h>
#include "kleak.h"
#include "loader.h"
#include "ubins.h"

struct ulearn;

/*
 * The tables of tracer t (its urows mapped), or NULL with errno set; each
 * binary loaded is kept open in kept, the run's binaries by build ID, where
 * its frames are resolved.
 */
struct ulearn *ulearn__new(const struct tracer *t, struct ubins *kept);
void ulearn__free(struct ulearn *ul);

/*
 * Before tracing: the binaries of the command at path (NULL: none), found
 * as execvp() finds it, and the executable mappings of process pid (0:
 * none). What cannot be loaded is counted, not an error. 0 or -ENOMEM.
 */
int ulearn__prime(struct ulearn *ul, const char *command, pid_t pid);

/* ring_buffer_sample_fn for the walker's requests (struct kleak_ulearn); ctx is ul. */
int ulearn__on_request(void *ctx, void *data, size_t size);

/*
 * Binaries the walker asked for whose CFI could not be loaded (no live
 * process mapped the file, no .eh_frame, no room left).
 */
__u64 ulearn__missed(const struct ulearn *ul);

#endif /* __KLEAK_ULEARN_H */
