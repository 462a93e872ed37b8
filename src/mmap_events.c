// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PERF_RECORD_MMAP2, FORK and COMM(exec) events into umaps (see
 * mmap_events.h). One dummy event per CPU: the kernel refuses to map the
 * buffer of an inherited per-task event (cpu -1), so inheritance needs one
 * per CPU, as perf record opens them. The rings are read one after the
 * other, so a child's exec may be read before the fork that made it, on
 * another CPU: the records' times put them in order (see umaps__fork()).
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "buildid.h"
#include "mmap_events.h"

/* 64 pages of records per CPU: an exec maps a few dozen, each ~100 bytes */
#define DATA_PAGES 64

struct cpu_ring {
	int fd;
	void *base;
};

struct mmap_events {
	struct umaps *maps;
	int n;
	struct cpu_ring *rings;
	size_t page;
	__u64 lost;
	char rec[65536 + 8];	/* a record copied out of the ring where it wraps */
};

struct mmap2_rec {
	struct perf_event_header h;
	__u32 pid, tid;
	__u64 addr, len, pgoff;
	__u32 maj, min;
	__u64 ino, ino_generation;
	__u32 prot, flags;
	char filename[];
};

struct fork_rec {
	struct perf_event_header h;
	__u32 pid, ppid, tid, ptid;
	__u64 time;
};

struct comm_rec {
	struct perf_event_header h;
	__u32 pid, tid;
	char comm[];
};

struct lost_rec {
	struct perf_event_header h;
	__u64 id, lost;
};

struct mmap_events *mmap_events__open(pid_t pid, struct umaps *maps)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.mmap = 1,
		.mmap2 = 1,
		.comm = 1,
		.task = 1,
		.inherit = pid != -1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
		.watermark = 1,
		.wakeup_watermark = 1,
		/* each record ends in its time: the rings of two CPUs are read one after the other */
		.sample_id_all = 1,
		.sample_type = PERF_SAMPLE_TIME,
	};
	struct mmap_events *me = calloc(1, sizeof(*me));
	int ncpu = sysconf(_SC_NPROCESSORS_CONF), i, err;

	if (!me)
		return NULL;
	me->maps = maps;
	me->page = sysconf(_SC_PAGESIZE);
	me->rings = calloc(ncpu > 0 ? ncpu : 1, sizeof(*me->rings));
	if (!me->rings)
		goto err_out;
	for (i = 0; i < ncpu; i++) {
		struct cpu_ring *r = &me->rings[me->n];

		r->fd = syscall(SYS_perf_event_open, &attr, pid, i, -1, PERF_FLAG_FD_CLOEXEC);
		if (r->fd < 0) {
			/* an offline CPU has no event: the others cover the tasks */
			if (errno == ENODEV)
				continue;
			goto err_out;
		}
		r->base = mmap(NULL, (DATA_PAGES + 1) * me->page, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->fd, 0);
		if (r->base == MAP_FAILED) {
			close(r->fd);
			goto err_out;
		}
		me->n++;
	}
	if (me->n)
		return me;
	errno = ENODEV;
err_out:
	err = errno;
	mmap_events__free(me);
	errno = err;
	return NULL;
}

void mmap_events__free(struct mmap_events *me)
{
	int i;

	if (!me)
		return;
	for (i = 0; i < me->n; i++) {
		munmap(me->rings[i].base, (DATA_PAGES + 1) * me->page);
		close(me->rings[i].fd);
	}
	free(me->rings);
	free(me);
}

static int on_record(struct mmap_events *me, const struct perf_event_header *h)
{
	const struct mmap2_rec *m = (const void *)h;
	const struct fork_rec *f = (const void *)h;
	const struct comm_rec *c = (const void *)h;
	struct umaps_line l;
	__u64 time;

	if (h->size < sizeof(*h) + sizeof(time))
		return 0;
	memcpy(&time, (const char *)h + h->size - sizeof(time), sizeof(time));
	switch (h->type) {
	case PERF_RECORD_MMAP2:
		if (h->size < sizeof(*m) + 1 + sizeof(time) || !(m->prot & PROT_EXEC) ||
		    (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) || m->filename[0] != '/')
			return 0;
		l = (struct umaps_line){
			.start = m->addr, .end = m->addr + m->len, .pgoff = m->pgoff,
			.dev = (__u64)m->maj << 32 | m->min, .inode = m->ino, .exec = true,
			.path = m->filename,
			.path_len = strnlen(m->filename, h->size - sizeof(*m) - sizeof(time)),
		};
		return umaps__add_mapping(me->maps, m->pid, &l, time, buildid__of_file);
	case PERF_RECORD_FORK:
		/* a new process (not a thread) starts with its parent's mappings */
		if (h->size < sizeof(*f) || f->pid == f->ppid)
			return 0;
		return umaps__fork(me->maps, f->ppid, f->pid, f->time);
	case PERF_RECORD_COMM:
		if (h->size >= sizeof(*c) && (h->misc & PERF_RECORD_MISC_COMM_EXEC) &&
		    c->pid == c->tid)
			return umaps__exec(me->maps, c->pid, time);
		return 0;
	case PERF_RECORD_LOST:
		if (h->size >= sizeof(struct lost_rec))
			me->lost += ((const struct lost_rec *)h)->lost;
		return 0;
	default:
		return 0;
	}
}

static int drain_ring(struct mmap_events *me, struct cpu_ring *r)
{
	struct perf_event_mmap_page *mp = r->base;
	size_t size = DATA_PAGES * me->page;
	char *data = (char *)r->base + me->page;
	__u64 head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE), tail = mp->data_tail;
	int err = 0;

	while (!err && tail < head) {
		const struct perf_event_header *h = (const void *)(data + tail % size);
		size_t off = tail % size, n;

		if (h->size < sizeof(*h) || h->size > head - tail)
			break;
		/* a record the ring's end cuts in two is copied out whole */
		if (off + h->size > size) {
			n = size - off;
			memcpy(me->rec, data + off, n);
			memcpy(me->rec + n, data, h->size - n);
			h = (const void *)me->rec;
		}
		err = on_record(me, h);
		tail += h->size;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
	return err;
}

int mmap_events__drain(struct mmap_events *me)
{
	int i, err = 0;

	for (i = 0; i < me->n && !err; i++)
		err = drain_ring(me, &me->rings[i]);
	return err;
}

__u64 mmap_events__lost(const struct mmap_events *me)
{
	return me->lost;
}
