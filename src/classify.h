/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who holds each outstanding task_struct, file and socket object, decided
 * at report time by BPF iterators (bpf/classify.bpf.c) over the task list,
 * the fd tables, the processes' mappings and the tcp, udp and unix socket
 * tables.
 */
#ifndef __KLEAK_CLASSIFY_H
#define __KLEAK_CLASSIFY_H

#include "loader.h"
#include "model.h"

/*
 * Gives every site of a classified kind its held array, n_held counts and
 * examples, from the addresses snapshot__take() left in s->addrs, and sets
 * m->held_kinds and m->held_missing. A kernel without an iterator, or a
 * failure to load or run one, leaves those kinds unclassified and says why
 * in m->held_missing: the report goes on. Returns 0, or -ENOMEM.
 */
int classify__model(const struct tracer *t, struct model *m);

/*
 * The kind of object a site's cache holds (enum kleak_obj_kind), KLEAK_OBJ_NONE
 * for others. A merged cache is of the one kind among its names (none for
 * two); *shared tells whether other names put objects of other kinds there
 * (UNIX merged with signal_cache): only what a walk finds is classified.
 */
int classify__site_kind(const struct model *m, const struct model_site *s, bool *shared);

#endif /* __KLEAK_CLASSIFY_H */
