// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The BPF walker's call frame information, binary by binary (see ulearn.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "buildid.h"
#include "log.h"
#include "ubins.h"
#include "ucfi.h"
#include "ulearn.h"
#include "umaps.h"

/*
 * A binary met: loaded, or not (yet); wanted: the walker asked for it. The
 * file it was loaded from is kept in the run's binaries (ubins.c): its
 * frames' symbols come from it after every process that mapped it is gone.
 */
struct ubinary {
	struct kleak_build_id id;
	bool loaded;
	bool wanted;
};

struct ulearn {
	struct ubins *kept;
	int ubins_fd;
	/* searches of every process's mappings in the second since second_ns */
	__u64 second_ns;
	__u32 scans;
	struct kleak_ucfi_rows *rows;	/* urows, mapped */
	__u32 elems;
	__u32 *fill;			/* rows used in each element */
	struct ubinary *bins;
	size_t n_bins;
};

struct ulearn *ulearn__new(const struct tracer *t, struct ubins *kept)
{
	struct ulearn *ul = calloc(1, sizeof(*ul));
	void *rows;
	int err;

	if (!ul)
		return NULL;
	ul->kept = kept;
	ul->ubins_fd = t->ubins_fd;
	ul->elems = t->urows_elems;
	ul->fill = calloc(ul->elems, sizeof(*ul->fill));
	rows = mmap(NULL, (size_t)ul->elems * sizeof(*ul->rows), PROT_READ | PROT_WRITE,
		    MAP_SHARED, t->urows_fd, 0);
	if (!ul->fill || rows == MAP_FAILED) {
		err = ul->fill ? errno : ENOMEM;
		free(ul->fill);
		free(ul);
		errno = err;
		return NULL;
	}
	ul->rows = rows;
	return ul;
}

void ulearn__free(struct ulearn *ul)
{
	if (!ul)
		return;

	munmap(ul->rows, (size_t)ul->elems * sizeof(*ul->rows));
	free(ul->fill);
	free(ul->bins);
	free(ul);
}

static struct ubinary *binary_of(struct ulearn *ul, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	struct ubinary *grown;
	size_t i;

	/* a run meets tens of binaries, hundreds at most */
	for (i = 0; i < ul->n_bins; i++)
		if (!memcmp(ul->bins[i].id.id, id, KLEAK_BUILD_ID_SIZE))
			return &ul->bins[i];
	grown = realloc(ul->bins, (ul->n_bins + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	ul->bins = grown;
	memset(&grown[ul->n_bins], 0, sizeof(*grown));
	memcpy(grown[ul->n_bins].id.id, id, KLEAK_BUILD_ID_SIZE);
	return &grown[ul->n_bins++];
}

/* Places rows in the first element with room and publishes them for build ID id. */
static int publish(struct ulearn *ul, const __u8 id[KLEAK_BUILD_ID_SIZE],
		   const struct ucfi_rows *r)
{
	struct kleak_ubin bin = { .nrows = r->n };
	__u32 e;

	if (!r->n)
		return -ENOENT;
	for (e = 0; e < ul->elems; e++)
		if (r->n <= KLEAK_UCFI_ROWS - ul->fill[e])
			break;
	if (e == ul->elems)
		return -ENOSPC;
	bin.elem = e;
	bin.first = ul->fill[e];
	memcpy(&ul->rows[e].row[bin.first], r->row, r->n * sizeof(r->row[0]));
	/* the rows are in place before the walker can find them: the update is a barrier */
	if (bpf_map_update_elem(ul->ubins_fd, id, &bin, BPF_ANY))
		return -errno;
	ul->fill[e] += r->n;
	return 0;
}

/* The name to show for a file opened as path: a map_files entry's target. */
static char *name_of(const char *path)
{
	char buf[4096];
	ssize_t n;

	if (strncmp(path, "/proc/", 6) || (n = readlink(path, buf, sizeof(buf) - 1)) <= 0)
		return strdup(path);
	buf[n] = '\0';
	return strdup(buf);
}

/*
 * Loads the CFI of the ELF file open at fd, opened as path; want: the
 * build ID it must have (NULL: any). Takes fd: the run's binaries keep it
 * once the CFI is loaded. 0, -ENOMEM, or another -errno for a binary not
 * loaded (counted once it is known by its build ID).
 */
static int load_fd(struct ulearn *ul, int fd, const __u8 *want, const char *path)
{
	struct ubin kept = { .fd = -1 };
	struct ucfi_rows r = {};
	struct ubinary *b;
	struct stat st;
	void *img;
	int err;

	if (fstat(fd, &st)) {
		err = -errno;
		goto out_close;
	}
	err = -EINVAL;
	if (!S_ISREG(st.st_mode) || !st.st_size)
		goto out_close;
	/* private and writable: libelf may rewrite a foreign-endian image in place */
	img = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED) {
		err = -errno;
		goto out_close;
	}
	err = buildid__of_buf(img, st.st_size, kept.id, &kept.loads);
	if (err <= 0 || (want && memcmp(kept.id, want, sizeof(kept.id)))) {
		munmap(img, st.st_size);
		err = err < 0 ? err : -ESTALE;
		goto out_close;
	}
	kept.id_len = err;
	b = binary_of(ul, kept.id);
	if (!b || b->loaded) {
		munmap(img, st.st_size);
		err = b ? 0 : -ENOMEM;
		goto out_close;
	}
	err = ucfi__compile_buf(img, st.st_size, &r);
	munmap(img, st.st_size);
	if (!err)
		err = publish(ul, kept.id, &r);
	pr_debug("call frame information of %s: %zu rows%s%s", path, r.n,
		 err ? ", not loaded: " : "", err ? strerror(-err) : "");
	ucfi__rows_free(&r);
	if (err) {
		err = err == -ENOMEM ? err : 0;
		goto out_close;
	}
	b->loaded = true;
	kept.path = name_of(path);
	if (!kept.path) {
		err = -ENOMEM;
		goto out_close;
	}
	kept.dev = (__u64)major(st.st_dev) << 32 | minor(st.st_dev);
	kept.inode = st.st_ino;
	kept.has_loads = true;
	kept.fd = fd;
	err = ubins__add(ul->kept, &kept) ? 0 : -ENOMEM;
	free(kept.path);
	return err;

out_close:
	close(fd);
	return err;
}

static int load_path(struct ulearn *ul, const char *path, const __u8 *want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : load_fd(ul, fd, want, path);
}

/* Every executable file mapping of process pid, through its map_files. */
static int load_proc(struct ulearn *ul, pid_t pid, const struct umaps_line *only)
{
	char path[64], line[4096];
	struct umaps_line l;
	int err = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		if (umaps__parse_line(line, strlen(line), &l) || !l.exec || !l.path ||
		    (only && (l.dev != only->dev || l.inode != only->inode)))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
			 (uint64_t)l.start, (uint64_t)l.end);
		err = load_path(ul, path, NULL);
		if (err != -ENOMEM)
			err = 0;
		if (only)
			break;
	}
	fclose(f);
	return err;
}

/* The file a command names, found as execvp() finds it; false if none. */
static bool command_path(const char *cmd, char *buf, size_t size)
{
	const char *p, *colon, *path = getenv("PATH");

	if (strchr(cmd, '/'))
		return snprintf(buf, size, "%s", cmd) < (int)size;
	for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = colon + 1) {
		colon = strchrnul(p, ':');
		if (snprintf(buf, size, "%.*s%s%s", (int)(colon - p), p, colon > p ? "/" : "",
			     cmd) < (int)size && !access(buf, X_OK))
			return true;
		if (!*colon)
			break;
	}
	return false;
}

/* Where the dynamic loader looks for a library on Debian and RHEL, without ld.so.cache */
static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib",
	"/usr/lib", "/usr/local/lib",
};

#define PRIME_LIBS	32

/*
 * The command, its dynamic loader (PT_INTERP) and the libraries it needs
 * (DT_NEEDED, and theirs), as far as they are found in the command's
 * RUNPATH or the usual directories: a library found there but not the one
 * the process maps is loaded for nothing, never used (the walker asks by
 * build ID).
 */
static int load_command(struct ulearn *ul, const char *cmd)
{
	char (*todo)[512] = calloc(PRIME_LIBS, sizeof(*todo)), buf[512];
	size_t n = 0, i, j, k, ndyn;
	Elf_Scn *scn;
	GElf_Shdr sh;
	GElf_Phdr ph;
	GElf_Dyn dyn;
	Elf_Data *d;
	const char *name;
	int fd, err = 0;
	Elf *elf;

	if (!todo)
		return -ENOMEM;
	if (command_path(cmd, todo[n], sizeof(todo[n])))
		n++;
	elf_version(EV_CURRENT);
	for (i = 0; i < n && err != -ENOMEM; i++) {
		err = load_path(ul, todo[i], NULL);
		fd = open(todo[i], O_RDONLY | O_CLOEXEC);
		elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
		for (j = 0; elf && !elf_getphdrnum(elf, &ndyn) && j < ndyn; j++)
			if (gelf_getphdr(elf, j, &ph) && ph.p_type == PT_INTERP && n < PRIME_LIBS &&
			    (d = elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, ELF_T_BYTE)) &&
			    d->d_size && d->d_size < sizeof(todo[n]) &&
			    memchr(d->d_buf, '\0', d->d_size))
				snprintf(todo[n++], sizeof(todo[n]), "%s", (const char *)d->d_buf);
		for (scn = NULL; elf && (scn = elf_nextscn(elf, scn));) {
			if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
			    !(d = elf_getdata(scn, NULL)))
				continue;
			for (j = 0; gelf_getdyn(d, j, &dyn) && dyn.d_tag != DT_NULL; j++) {
				if (dyn.d_tag != DT_NEEDED || n == PRIME_LIBS ||
				    !(name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val)) ||
				    strchr(name, '/'))
					continue;
				for (k = 0; k < sizeof(lib_dirs) / sizeof(lib_dirs[0]); k++)
					if (snprintf(buf, sizeof(buf), "%s/%s", lib_dirs[k], name) <
					    (int)sizeof(buf) && !access(buf, R_OK))
						break;
				if (k == sizeof(lib_dirs) / sizeof(lib_dirs[0]))
					continue;
				for (k = 0; k < n && strcmp(todo[k], buf); k++)
					;
				if (k == n)
					memcpy(todo[n++], buf, sizeof(buf));
			}
		}
		elf_end(elf);
		if (fd >= 0)
			close(fd);
	}
	free(todo);
	return err == -ENOMEM ? err : 0;
}

int ulearn__prime(struct ulearn *ul, const char *command, pid_t pid)
{
	int err;

	err = command ? load_command(ul, command) : 0;
	if (!err)
		err = pid ? load_proc(ul, pid, NULL) : 0;
	/* the C library and dynamic loader nearly every process makes its system calls through */
	if (!err)
		err = load_proc(ul, getppid(), NULL);
	/* a command's first allocations come from kleak's own code, before it execs */
	if (!err && command)
		err = load_path(ul, "/proc/self/exe", NULL);
	return err;
}

/* A live process that maps the file (dev, ino), its map_files entry opened; -1 if none. */
static int load_from_any(struct ulearn *ul, const struct kleak_ulearn *ev)
{
	/* the kernel's dev_t (major << 20 | minor) as /proc/PID/maps shows it */
	struct umaps_line want = { .dev = ev->dev >> 20 << 32 | (ev->dev & 0xfffff),
				   .inode = ev->ino };
	struct ubinary *b;
	struct dirent *d;
	int err = 0;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		err = load_proc(ul, atoi(d->d_name), &want);
		b = binary_of(ul, ev->build_id);
		if (err == -ENOMEM || !b || b->loaded) {
			err = b ? err : -ENOMEM;
			break;
		}
	}
	closedir(dir);
	return err;
}

/*
 * Reading every process's maps costs milliseconds on a busy node: ten
 * times a second at most (the walker asks again a second later). One per
 * binary a second is what the walker asks for: a binary whose processes
 * all exit before kleak reads it (xargs' commands) is found in the
 * children they forked, or in the next process that runs it.
 */
static bool scan_allowed(struct ulearn *ul)
{
	__u64 now = tracer__now_ns();

	if (now - ul->second_ns > 1000000000ULL) {
		ul->second_ns = now;
		ul->scans = 0;
	}
	return ul->scans++ < 10;
}

int ulearn__on_request(void *ctx, void *data, size_t size)
{
	const struct kleak_ulearn *ev = data;
	struct ulearn *ul = ctx;
	struct ubinary *b;
	char path[64];
	int err;

	if (size < sizeof(*ev))
		return 0;
	b = binary_of(ul, ev->build_id);
	if (!b)
		return -ENOMEM;
	b->wanted = true;
	if (b->loaded)
		return 0;
	/* the file the process mapped, whatever happened to its path since */
	snprintf(path, sizeof(path), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, ev->tgid,
		 (uint64_t)ev->start, (uint64_t)ev->end);
	err = load_path(ul, path, ev->build_id);
	if (err == -ENOMEM)
		return err;
	b = binary_of(ul, ev->build_id);
	if (b && !b->loaded && scan_allowed(ul))
		err = load_from_any(ul, ev);
	return err == -ENOMEM ? err : 0;
}

__u64 ulearn__missed(const struct ulearn *ul)
{
	__u64 n = 0;
	size_t i;

	for (i = 0; ul && i < ul->n_bins; i++)
		n += ul->bins[i].wanted && !ul->bins[i].loaded;
	return n;
}
