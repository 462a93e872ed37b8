// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Build IDs read with libelf from the notes of an ELF image in memory: the
 * same parser for a file (mapped) and for a fuzzer's buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buildid.h"

/* NT_GNU_BUILD_ID in a note section of owner "GNU": its length, or -ENOENT */
static int note_build_id(Elf_Data *d, __u8 id[KLEAK_BUILD_ID_SIZE])
{
	size_t off = 0, name_off, desc_off, n;
	GElf_Nhdr nh;

	while (off < d->d_size && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 || !nh.n_descsz ||
		    memcmp((const char *)d->d_buf + name_off, "GNU", 4))
			continue;
		n = nh.n_descsz < KLEAK_BUILD_ID_SIZE ? nh.n_descsz : KLEAK_BUILD_ID_SIZE;
		memset(id, 0, KLEAK_BUILD_ID_SIZE);
		memcpy(id, (const char *)d->d_buf + desc_off, n);
		return n;
	}
	return -ENOENT;
}

int buildid__of_buf(void *buf, size_t len, __u8 id[KLEAK_BUILD_ID_SIZE],
		     struct elf_loads *loads)
{
	size_t n, i;
	int err = -ENOENT;
	Elf *e;

	elf_version(EV_CURRENT);
	/* elf_memory() may convert a foreign byte order in place: buf must be writable */
	e = elf_memory(buf, len);
	if (!e)
		return -EINVAL;
	if (elf_kind(e) != ELF_K_ELF || elf_getphdrnum(e, &n)) {
		err = -EINVAL;
		goto out;
	}
	if (loads)
		loads->n = 0;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;
		Elf_Data *d;

		if (!gelf_getphdr(e, i, &ph))
			continue;
		if (ph.p_type == PT_LOAD && loads && loads->n < BUILDID_MAX_LOADS) {
			loads->seg[loads->n].offset = ph.p_offset;
			loads->seg[loads->n].vaddr = ph.p_vaddr;
			loads->seg[loads->n].size = ph.p_memsz;
			loads->seg[loads->n].align = ph.p_align;
			loads->n++;
		}
		if (ph.p_type != PT_NOTE || err > 0)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			continue;
		d = elf_getdata_rawchunk(e, ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		if (d)
			err = note_build_id(d, id);
	}
out:
	elf_end(e);
	return err;
}

int buildid__of_fd(int fd, __u8 id[KLEAK_BUILD_ID_SIZE], struct elf_loads *loads)
{
	struct stat st;
	void *p;
	int err;

	if (fstat(fd, &st))
		return -errno;
	if (!st.st_size || !S_ISREG(st.st_mode))
		return -EINVAL;
	/* private and writable: libelf may convert a foreign byte order in place */
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	err = buildid__of_buf(p, st.st_size, id, loads);
	munmap(p, st.st_size);
	return err;
}

int buildid__of_file(const char *path, __u8 id[KLEAK_BUILD_ID_SIZE], struct elf_loads *loads)
{
	/* non-blocking: a path that names a FIFO is refused by fstat(), not waited on */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), err;

	if (fd < 0)
		return -errno;
	err = buildid__of_fd(fd, id, loads);
	close(fd);
	return err;
}

void buildid__hex(const __u8 id[KLEAK_BUILD_ID_SIZE], char *out)
{
	int i;

	for (i = 0; i < KLEAK_BUILD_ID_SIZE; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

__u32 buildid__trimmed_len(const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	__u32 n = KLEAK_BUILD_ID_SIZE;

	while (n > 1 && !id[n - 1])
		n--;
	return n;
}

bool buildid__offset_to_vaddr(const struct elf_loads *loads, __u64 off, __u64 *vaddr)
{
	__u32 i;

	for (i = 0; i < loads->n && i < BUILDID_MAX_LOADS; i++)
		if (off >= loads->seg[i].offset && off - loads->seg[i].offset < loads->seg[i].size) {
			*vaddr = off - loads->seg[i].offset + loads->seg[i].vaddr;
			return true;
		}
	return false;
}
