// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Binaries by build ID (see ubins.h). An open file descriptor keeps the
 * file that ran readable whatever happens to its path, as perf's build-ID
 * cache does with a copy, at the cost of no copy at all; a descriptor per
 * distinct binary, not per process, so a command run thousands of times
 * costs one per library it maps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ubins.h"

struct ubins {
	size_t n;
	size_t cap;
	struct ubin *bins;
	/* build ID -> index + 1 into bins, open addressing; cap_index a power of two */
	size_t cap_index;
	__u32 *index;
	size_t kept;
};

struct ubins *ubins__new(void)
{
	return calloc(1, sizeof(struct ubins));
}

void ubins__free(struct ubins *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->bins[i].path);
		if (b->bins[i].fd >= 0)
			close(b->bins[i].fd);
	}
	free(b->bins);
	free(b->index);
	free(b);
}

static size_t id_slot(const struct ubins *b, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	__u64 h;
	size_t i;

	/* a build ID is a hash already */
	memcpy(&h, id, sizeof(h));
	for (i = (h * 0x9e3779b97f4a7c15ULL) >> 20 & (b->cap_index - 1); b->index[i];
	     i = (i + 1) & (b->cap_index - 1))
		if (!memcmp(b->bins[b->index[i] - 1].id, id, KLEAK_BUILD_ID_SIZE))
			break;
	return i;
}

const struct ubin *ubins__find(const struct ubins *b, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	size_t i;

	if (!b->cap_index)
		return NULL;
	i = id_slot(b, id);
	return b->index[i] ? &b->bins[b->index[i] - 1] : NULL;
}

const struct ubin *ubins__find_file(const struct ubins *b, __u64 dev, __u64 inode,
				    const char *path, size_t len)
{
	size_t i;

	if (!inode)
		return NULL;
	/* the latest first: a file replaced on disk is a new inode, read again */
	for (i = b->n; i-- > 0;) {
		const struct ubin *bin = &b->bins[i];

		if (bin->inode == inode && bin->dev == dev && strlen(bin->path) == len &&
		    !memcmp(bin->path, path, len))
			return bin;
	}
	return NULL;
}

/* Indexes bins[n - 1], the table kept at most half full. */
static int index_add(struct ubins *b)
{
	size_t i;

	if (b->n * 2 > b->cap_index) {
		free(b->index);
		b->cap_index = b->cap_index ? b->cap_index * 2 : 64;
		b->index = calloc(b->cap_index, sizeof(*b->index));
		if (!b->index) {
			b->cap_index = 0;
			return -ENOMEM;
		}
		for (i = 0; i + 1 < b->n; i++)
			b->index[id_slot(b, b->bins[i].id)] = i + 1;
	}
	b->index[id_slot(b, b->bins[b->n - 1].id)] = b->n;
	return 0;
}

/* Keeps fd for bin if the cap allows; closes it otherwise. */
static void keep_fd(struct ubins *b, struct ubin *bin, int fd)
{
	if (fd < 0)
		return;
	if (bin->fd < 0 && b->kept < UBINS_MAX_KEPT) {
		bin->fd = fd;
		b->kept++;
		return;
	}
	close(fd);
}

const struct ubin *ubins__add(struct ubins *b, const struct ubin *bin)
{
	struct ubin *have = (struct ubin *)ubins__find(b, bin->id), *grown;

	if (have) {
		if (!have->has_loads && bin->has_loads) {
			have->has_loads = true;
			have->loads = bin->loads;
			have->id_len = bin->id_len;
		}
		keep_fd(b, have, bin->fd);
		return have;
	}
	if (b->n == b->cap) {
		grown = realloc(b->bins, (b->cap ? b->cap * 2 : 64) * sizeof(*grown));
		if (!grown)
			goto err_out;
		b->bins = grown;
		b->cap = b->cap ? b->cap * 2 : 64;
	}
	have = &b->bins[b->n];
	*have = *bin;
	have->fd = -1;
	have->path = strdup(bin->path);
	if (!have->path)
		goto err_out;
	b->n++;
	if (index_add(b)) {
		free(have->path);
		b->n--;
		goto err_out;
	}
	keep_fd(b, have, bin->fd);
	return have;
err_out:
	if (bin->fd >= 0)
		close(bin->fd);
	return NULL;
}

int ubins__open(const struct ubin *bin, bool *replaced)
{
	__u8 now[KLEAK_BUILD_ID_SIZE];
	int fd, err;

	*replaced = false;
	if (bin->fd >= 0) {
		fd = fcntl(bin->fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	fd = open(bin->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	err = buildid__of_fd(fd, now, NULL);
	if (err > 0 && !memcmp(now, bin->id, sizeof(now)))
		return fd;
	close(fd);
	/* another build, a file of no build ID, not ELF: not the binary that ran */
	*replaced = true;
	return -ESTALE;
}
