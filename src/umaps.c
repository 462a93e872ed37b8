// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Traced processes' executable mappings, kept after they exit (see
 * umaps.h). /proc/PID/maps on first sight rather than perf MMAP2 events:
 * one read per process instead of a perf buffer per CPU, and the BPF side
 * already knows when a process first allocates. Its cost is a race with a
 * process that exits at once: those are counted as missed, and their
 * build-ID frames still resolve through any other process that mapped the
 * same binary, or through debuginfo found by build ID.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buildid.h"
#include "umaps.h"

struct uproc {
	__u32 tgid;
	size_t n_maps;
	struct umap *maps;
};

struct umaps {
	size_t n_procs;
	size_t cap;
	struct uproc *procs;
	__u64 missed;
};

/* Reads a hex number at *p, bounded by end; false if there is none. */
static bool hex_field(const char **p, const char *end, __u64 *v)
{
	const char *s = *p;
	__u64 x = 0;
	int d;

	for (; s < end; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		if (x >> 60)
			return false;
		x = x << 4 | d;
	}
	if (s == *p)
		return false;
	*v = x;
	*p = s;
	return true;
}

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* Skips a field of non-spaces; false if there is none. */
static bool skip_field(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && *s != ' ')
		s++;
	if (s == *p)
		return false;
	*p = s;
	return true;
}

int umaps__parse_line(const char *line, size_t len, struct umaps_line *out)
{
	const char *p = line, *end = line + len, *perms;

	if (len && end[-1] == '\n')
		end--;
	memset(out, 0, sizeof(*out));
	if (!hex_field(&p, end, &out->start) || p == end || *p++ != '-' ||
	    !hex_field(&p, end, &out->end) || out->end < out->start)
		return -EINVAL;
	p = skip_spaces(p, end);
	perms = p;
	if (!skip_field(&p, end) || p - perms != 4)
		return -EINVAL;
	out->exec = perms[2] == 'x';
	p = skip_spaces(p, end);
	if (!hex_field(&p, end, &out->pgoff))
		return -EINVAL;
	p = skip_spaces(p, end);
	if (!skip_field(&p, end))	/* dev */
		return -EINVAL;
	p = skip_spaces(p, end);
	if (!skip_field(&p, end))	/* inode */
		return -EINVAL;
	p = skip_spaces(p, end);
	/* a file's path is absolute; "[vdso]", "[heap]" and anonymous ones are not files */
	if (p < end && *p == '/') {
		out->path = p;
		out->path_len = end - p;
	}
	return 0;
}

struct umaps *umaps__new(void)
{
	return calloc(1, sizeof(struct umaps));
}

static void proc_clear(struct uproc *pr)
{
	size_t i;

	for (i = 0; i < pr->n_maps; i++)
		free(pr->maps[i].path);
	free(pr->maps);
	pr->maps = NULL;
	pr->n_maps = 0;
}

void umaps__free(struct umaps *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->n_procs; i++)
		proc_clear(&u->procs[i]);
	free(u->procs);
	free(u);
}

static struct uproc *proc_get(struct umaps *u, __u32 tgid)
{
	struct uproc *grown;
	size_t i;

	for (i = u->n_procs; i-- > 0;)
		if (u->procs[i].tgid == tgid) {
			proc_clear(&u->procs[i]);
			return &u->procs[i];
		}
	if (u->n_procs == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		grown = realloc(u->procs, u->cap * sizeof(*grown));
		if (!grown)
			return NULL;
		u->procs = grown;
	}
	memset(&u->procs[u->n_procs], 0, sizeof(u->procs[0]));
	u->procs[u->n_procs].tgid = tgid;
	return &u->procs[u->n_procs++];
}

/* Appends a mapping; the build ID is read from id_path (the mapped file itself). */
static int add_map(struct uproc *pr, const struct umaps_line *l, const char *id_path,
		   umaps_build_id_fn build_id)
{
	struct umap *grown, *m;

	grown = realloc(pr->maps, (pr->n_maps + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	pr->maps = grown;
	m = &pr->maps[pr->n_maps];
	memset(m, 0, sizeof(*m));
	m->start = l->start;
	m->end = l->end;
	m->pgoff = l->pgoff;
	m->path = strndup(l->path, l->path_len);
	if (!m->path)
		return -ENOMEM;
	m->has_build_id = build_id &&
			  !build_id(id_path ? id_path : m->path, m->build_id, &m->loads);
	pr->n_maps++;
	return 0;
}

static int add_lines(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		     umaps_build_id_fn build_id, bool live)
{
	const char *p = buf, *end = buf + len, *nl;
	struct umaps_line l;
	struct uproc *pr;
	char id_path[64];
	int err;

	pr = proc_get(u, tgid);
	if (!pr)
		return -ENOMEM;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (umaps__parse_line(p, nl - p, &l))
			return -EINVAL;
		if (!l.exec || !l.path)
			continue;
		/* the file mapped, even once replaced or deleted on disk */
		snprintf(id_path, sizeof(id_path), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64,
			 tgid, (uint64_t)l.start, (uint64_t)l.end);
		err = add_map(pr, &l, live ? id_path : NULL, build_id);
		if (err)
			return err;
	}
	return 0;
}

int umaps__add_text(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		    umaps_build_id_fn build_id)
{
	return add_lines(u, tgid, buf, len, build_id, false);
}

int umaps__add_proc(struct umaps *u, __u32 tgid)
{
	char path[64], *buf = NULL;
	size_t cap = 0, len;
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "/proc/%u/maps", tgid);
	f = fopen(path, "re");
	if (!f) {
		u->missed++;
		return -errno;
	}
	len = getdelim(&buf, &cap, '\0', f) > 0 ? strlen(buf) : 0;
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	/* an exited process's maps read empty: nothing to resolve with */
	if (!err && !len)
		err = -ESRCH;
	if (!err)
		err = add_lines(u, tgid, buf, len, buildid__of_file, true);
	free(buf);
	if (err)
		u->missed++;
	return err;
}

const struct umap *umaps__find(const struct umaps *u, __u32 tgid, __u64 ip)
{
	size_t i, j;

	for (i = u->n_procs; i-- > 0;) {
		const struct uproc *pr = &u->procs[i];

		if (pr->tgid != tgid)
			continue;
		for (j = 0; j < pr->n_maps; j++)
			if (ip >= pr->maps[j].start && ip < pr->maps[j].end)
				return &pr->maps[j];
		return NULL;
	}
	return NULL;
}

const struct umap *umaps__binary_of(const struct umaps *u, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	size_t i, j;

	for (i = u->n_procs; i-- > 0;)
		for (j = 0; j < u->procs[i].n_maps; j++) {
			const struct umap *m = &u->procs[i].maps[j];

			if (m->has_build_id && !memcmp(m->build_id, id, KLEAK_BUILD_ID_SIZE))
				return m;
		}
	return NULL;
}

__u64 umaps__missed(const struct umaps *u)
{
	return u->missed;
}
