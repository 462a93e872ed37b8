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
 * What the walks not finding one of a site's objects says of it: that
 * nobody visible holds it (CLASSIFY_ALL); or nothing, where the site's
 * cache holds objects of other kinds too (CLASSIFY_MERGED: UNIX merged with
 * signal_cache) or its objects are files of overlayfs's layers, held by an
 * overlay file the walks do not follow (CLASSIFY_LAYER).
 */
enum classify_scope {
	CLASSIFY_ALL,
	CLASSIFY_MERGED,
	CLASSIFY_LAYER,
};

/*
 * The kind of object a site holds (enum kleak_obj_kind), from its cache or
 * its allocating function; KLEAK_OBJ_NONE for others. A merged cache is of
 * the one kind among its names (none for two). *scope says what objects no
 * walk finds are.
 */
int classify__site_kind(const struct model *m, const struct model_site *s,
			enum classify_scope *scope);

#endif /* __KLEAK_CLASSIFY_H */
