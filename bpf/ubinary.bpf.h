/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack (fp): which binary a user address is in, and where in the file.
 * The walker (uwalk.bpf.h) proves every frame it keeps is code of a
 * binary: the address lies in an executable mapping of the current process,
 * in the text of the file mapped there, and the file's build ID (read from
 * its first page in the page cache, as the kernel's own
 * BPF_F_USER_BUILD_ID reads it) names the binary the frame is reported in.
 *
 * The mapping is found by walking the process's VMA tree without the mmap
 * lock, as the kernel's lockless lookups do, and checked: the VMA found
 * belongs to this mm and holds the address. Before 6.1 the tree is an
 * rbtree (mm_rb), since 6.1 a maple tree (mm_mt); bpf_find_vma() (5.17)
 * would need a program variant per kernel, the CO-RE walk does not. A
 * file's build ID and text are kept per inode in an LRU map: a binary's
 * first page is parsed once per run.
 */
#ifndef __UBINARY_BPF_H
#define __UBINARY_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"

#define VM_EXEC			0x4
#define UBIN_PAGE_SHIFT		12
#define UBIN_PAGE		4096
/* x86_64's direct map and struct page array with 4-level paging, not randomized */
#define UBIN_PAGE_OFFSET_L4	0xffff888000000000ULL
#define UBIN_VMEMMAP_L4		0xffffea0000000000ULL

/* x86_64's direct map and struct page array, placed at boot (KASLR) */
extern const void page_offset_base __ksym __weak;
extern const void vmemmap_base __ksym __weak;

/* Before 6.1 ("mm: remove rb tree"): the VMAs in an rbtree. */
struct mm_struct___rb {
	struct rb_root mm_rb;
} __attribute__((preserve_access_index));

struct vm_area_struct___rb {
	struct rb_node vm_rb;
} __attribute__((preserve_access_index));

/*
 * A count that changes whenever the VMAs of an mm may have been removed,
 * to reuse what was found of its mappings: mm_lock_seq, bumped by every
 * mmap write lock's release (6.4, per-VMA locking; an int before 6.12, a
 * seqcount since), or vmacache_seqnum, bumped by every VMA unlinked
 * (before 6.1).
 */
struct mm_struct___seqcount {
	seqcount_t mm_lock_seq;
} __attribute__((preserve_access_index));

struct mm_struct___seqint {
	int mm_lock_seq;
} __attribute__((preserve_access_index));

struct mm_struct___vmacache {
	__u64 vmacache_seqnum;
} __attribute__((preserve_access_index));

/* The mappings' generation of mm, and whether this kernel keeps one (not 6.1-6.3). */
static __always_inline bool umaps_gen(struct mm_struct *mm, __u64 *gen)
{
	if (bpf_core_field_exists(((struct mm_struct___seqcount *)mm)->mm_lock_seq)) {
		*gen = BPF_CORE_READ((struct mm_struct___seqcount *)mm, mm_lock_seq.sequence);
		return true;
	}
	if (bpf_core_field_exists(((struct mm_struct___seqint *)mm)->mm_lock_seq)) {
		*gen = BPF_CORE_READ((struct mm_struct___seqint *)mm, mm_lock_seq);
		return true;
	}
	if (bpf_core_field_exists(((struct mm_struct___vmacache *)mm)->vmacache_seqnum)) {
		*gen = BPF_CORE_READ((struct mm_struct___vmacache *)mm, vmacache_seqnum);
		return true;
	}
	return false;
}

/* What the walker keeps of a file it met: its build ID and text. */
struct ufile {
	struct kleak_build_id id;
	__u32 ok;		/* the first page held an ELF header and a build ID */
	__u64 ts_ns;		/* when it was read: one without is read again a second later */
	/* file offsets of its executable segments: the code a frame may be in */
	__u64 text_lo;
	__u64 text_hi;
};

/* An inode as it stands: a freed one reused for another file differs */
struct ufile_key {
	__u64 inode;
	__u64 ino;
	__u32 generation;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ufile_key);
	__type(value, struct ufile);
	__uint(max_entries, 1);	/* sized by the loader with --ustack */
} ufiles SEC(".maps");

/* One mapping a walk found, and its binary. */
struct umapping {
	__u64 start;
	__u64 end;
	__u64 pgoff;		/* bytes */
	__u64 text_lo;
	__u64 text_hi;
	__u64 dev;
	__u64 ino;
	__u64 file;		/* the struct file, for ufile_parse() */
	struct kleak_build_id id;
	__u32 pad;
};

/* Why an address has no binary; the walker's cut reasons start here. */
enum ubin_err {
	UBIN_OK,
	UBIN_NOT_TEXT,		/* no executable mapping there */
	UBIN_NO_BINARY,		/* an executable mapping of no file, or no build ID read */
	UBIN_NEW_FILE,		/* a file not parsed yet */
};

/* The ELF structures read, as the file holds them (vmlinux.h's are CO-RE-relocated) */
struct uelf_ehdr {
	__u8 e_ident[16];
	__u16 e_type;
	__u16 e_machine;
	__u32 e_version;
	__u64 e_entry;
	__u64 e_phoff;
	__u64 e_shoff;
	__u32 e_flags;
	__u16 e_ehsize;
	__u16 e_phentsize;
	__u16 e_phnum;
	__u16 e_shentsize;
	__u16 e_shnum;
	__u16 e_shstrndx;
};

struct uelf_phdr {
	__u32 p_type;
	__u32 p_flags;
	__u64 p_offset;
	__u64 p_vaddr;
	__u64 p_paddr;
	__u64 p_filesz;
	__u64 p_memsz;
	__u64 p_align;
};

struct uelf_nhdr {
	__u32 n_namesz;
	__u32 n_descsz;
	__u32 n_type;
};

/* ufile_parse()'s working copy of the headers, off the BPF stack the walk shares */
struct ufile_scratch {
	struct uelf_ehdr eh;
	struct uelf_phdr ph;
	struct uelf_nhdr nh;
	__u32 name;
	struct ufile_key key;
	struct ufile f;
	__u64 note_off[2];
	__u64 note_end[2];
	__u64 pivots[15];	/* uvma_find()'s maple node */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ufile_scratch);
	__uint(max_entries, 1);
} ufile_buf SEC(".maps");

/* Where the page cache keeps page 0 of mapping, in the direct map; 0 if not there. */
static __always_inline __u64 page0_addr(struct address_space *mapping)
{
	__u64 entry = (__u64)BPF_CORE_READ(mapping, i_pages.xa_head), base, vmemmap;
	__u64 flags = 0;
	int i;

	/* index 0 is slot 0 of every xa_node on the way down (xa_is_node()) */
	for (i = 0; i < 8 && (entry & 3) == 2 && entry > 4096; i++)
		entry = (__u64)BPF_CORE_READ((struct xa_node *)(entry - 2), slots[0]);
	/* empty, a shadow of an evicted page (value entry), or a retry entry */
	if (!entry || (entry & 3))
		return 0;
	/* a page's (a folio's) flags are its first word in every kernel (memdesc_flags_t in 6.18) */
	if (bpf_probe_read_kernel(&flags, sizeof(flags), (void *)entry) ||
	    !(flags & (1ULL << bpf_core_enum_value(enum pageflags, PG_uptodate))))
		return 0;
	/*
	 * Without CONFIG_DYNAMIC_MEMORY_LAYOUT (no KASLR of the memory map, no
	 * 5-level paging) the kernel has no such variables: the layout is
	 * 4-level paging's fixed one
	 */
	base = UBIN_PAGE_OFFSET_L4;
	vmemmap = UBIN_VMEMMAP_L4;
	if ((&page_offset_base &&
	     bpf_probe_read_kernel(&base, sizeof(base), &page_offset_base)) ||
	    (&vmemmap_base && bpf_probe_read_kernel(&vmemmap, sizeof(vmemmap), &vmemmap_base)) ||
	    entry < vmemmap)
		return 0;
	return base + ((entry - vmemmap) / bpf_core_type_size(struct page) << UBIN_PAGE_SHIFT);
}

#define ELF_PHDRS	32
#define ELF_NOTES	16
#define PT_LOAD		1
#define PT_NOTE		4
#define PF_X		1
#define NT_GNU_BUILD_ID	3

/* The key of the file's inode in ufiles. */
static __always_inline void ufile_key_of(struct file *file, struct ufile_key *key)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	key->inode = (__u64)inode;
	key->ino = BPF_CORE_READ(inode, i_ino);
	key->generation = BPF_CORE_READ(inode, i_generation);
}

/*
 * The build ID and the executable segments of file, from the ELF header,
 * program headers and notes in its first page (where linkers put them),
 * into ufiles; whether there was a build ID.
 */
static __always_inline int ufile_parse(__u64 file_ptr)
{
	struct ufile_scratch *sc;
	__u32 i, n_notes = 0, zero = 0, size;
	__u64 page, off, end;

	sc = bpf_map_lookup_elem(&ufile_buf, &zero);
	if (!sc)
		return 0;
	ufile_key_of((struct file *)file_ptr, &sc->key);
	__builtin_memset(&sc->f, 0, sizeof(sc->f));
	page = page0_addr(BPF_CORE_READ((struct file *)file_ptr, f_mapping));
	if (!page || bpf_probe_read_kernel(&sc->eh, sizeof(sc->eh), (void *)page))
		goto out;
	if (*(__u32 *)sc->eh.e_ident != 0x464c457f || sc->eh.e_ident[4] != 2 ||
	    sc->eh.e_phentsize != sizeof(sc->ph) || sc->eh.e_phoff >= UBIN_PAGE)
		goto out;
	sc->f.text_lo = ~0ULL;
	for (i = 0; i < ELF_PHDRS && i < sc->eh.e_phnum; i++) {
		off = sc->eh.e_phoff + i * sizeof(sc->ph);
		if (off > UBIN_PAGE - sizeof(sc->ph) ||
		    bpf_probe_read_kernel(&sc->ph, sizeof(sc->ph), (void *)(page + off)))
			break;
		if (sc->ph.p_type == PT_LOAD && (sc->ph.p_flags & PF_X)) {
			if (sc->ph.p_offset < sc->f.text_lo)
				sc->f.text_lo = sc->ph.p_offset;
			if (sc->ph.p_offset + sc->ph.p_filesz > sc->f.text_hi)
				sc->f.text_hi = sc->ph.p_offset + sc->ph.p_filesz;
		} else if (sc->ph.p_type == PT_NOTE && n_notes < 2) {
			sc->note_off[n_notes] = sc->ph.p_offset;
			sc->note_end[n_notes] = sc->ph.p_offset + sc->ph.p_filesz;
			n_notes++;
		}
	}
	off = sc->note_off[0];
	end = sc->note_end[0];
	for (i = 0; i < ELF_NOTES && n_notes; i++) {
		if (off + sizeof(sc->nh) + sizeof(sc->name) > end || off > UBIN_PAGE - 64 ||
		    bpf_probe_read_kernel(&sc->nh, sizeof(sc->nh), (void *)(page + off))) {
			/* the second PT_NOTE segment's notes, if there is one */
			if (n_notes < 2 || end == sc->note_end[1])
				break;
			off = sc->note_off[1];
			end = sc->note_end[1];
			continue;
		}
		if (sc->nh.n_type == NT_GNU_BUILD_ID && sc->nh.n_namesz == 4 &&
		    !bpf_probe_read_kernel(&sc->name, sizeof(sc->name),
					   (void *)(page + off + sizeof(sc->nh))) &&
		    sc->name == 0x554e47 /* "GNU\0" */) {
			/*
			 * Shorter IDs zero-padded, as the kernel pads them. The
			 * size bounded on its own next to the call: 6.1's verifier
			 * lost the bound clang folded into "size - 1 > 19"
			 */
			size = sc->nh.n_descsz;
			barrier_var(size);
			if (size > KLEAK_BUILD_ID_SIZE ||
			    bpf_probe_read_kernel(sc->f.id.id, size,
						  (void *)(page + off + sizeof(sc->nh) + 4)))
				break;
			sc->f.ok = size && sc->f.text_hi > sc->f.text_lo;
			break;
		}
		off += sizeof(sc->nh) + ((sc->nh.n_namesz + 3) & ~3) + ((sc->nh.n_descsz + 3) & ~3);
	}
out:
	/* a file without one is kept too, so its first page is not read at every frame */
	sc->f.ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&ufiles, &sc->key, &sc->f, BPF_ANY);
	return sc->f.ok;
}

/* The VMA of mm that holds addr, 0 if none: a lockless walk of the tree, checked by the caller. */
static __always_inline __u64 uvma_find(__u64 mm_ptr, __u64 addr)
{
	struct mm_struct *mm = (void *)mm_ptr;
	__u64 entry, node, found = 0, *pivots;
	__u32 i, type, n, slot, zero = 0;
	struct ufile_scratch *sc;

	if (bpf_core_field_exists(((struct mm_struct___rb *)mm)->mm_rb)) {
		struct rb_node *rb = BPF_CORE_READ((struct mm_struct___rb *)mm, mm_rb.rb_node);
		__u64 off = bpf_core_field_offset(struct vm_area_struct___rb, vm_rb);
		struct vm_area_struct *vma;

		/* an rbtree of 65530 VMAs (vm.max_map_count) is at most 32 deep */
		for (i = 0; i < 40 && rb; i++) {
			vma = (void *)rb - off;
			if (BPF_CORE_READ(vma, vm_end) > addr) {
				found = (__u64)vma;
				if (BPF_CORE_READ(vma, vm_start) <= addr)
					break;
				rb = BPF_CORE_READ(rb, rb_left);
			} else {
				rb = BPF_CORE_READ(rb, rb_right);
			}
		}
		return found;
	}
	/*
	 * A maple tree (lib/maple_tree.c, mtree_lookup_walk()): the root is a
	 * node when it is an internal entry (xa_is_node()); a node entry is
	 * the node's address with its type in bits 3-6. In a node, the first
	 * pivot at or above addr names the slot to go down, the last slot
	 * where none is (an unused pivot is 0); a leaf's slots hold the VMAs.
	 */
	sc = bpf_map_lookup_elem(&ufile_buf, &zero);
	if (!sc)
		return 0;
	pivots = sc->pivots;
	entry = (__u64)BPF_CORE_READ(mm, mm_mt.ma_root);
	if ((entry & 3) != 2 || entry <= 4096)
		return 0;
	/*
	 * Unrolled: clang lays this loop out with a fall-through back edge,
	 * which 6.1's verifier refuses ("back-edge from insn"); 8 levels hold
	 * 10^8 VMAs
	 */
#pragma unroll
	for (i = 0; i < 8; i++) {
		node = entry & ~0xffULL;
		type = (entry >> 3) & 0xf;
		/* maple_leaf_64 and maple_range_64: 15 pivots; maple_arange_64: 9 */
		if (type == 3) {
			n = 10;
			if (bpf_probe_read_kernel(pivots, 9 * sizeof(__u64), (void *)node +
						  bpf_core_field_offset(struct maple_arange_64, pivot)))
				return 0;
		} else if (type == 1 || type == 2) {
			n = 16;
			if (bpf_probe_read_kernel(pivots, 15 * sizeof(__u64), (void *)node +
						  bpf_core_field_offset(struct maple_range_64, pivot)))
				return 0;
		} else {
			return 0;
		}
		for (slot = 0; slot < 15 && slot < n - 1; slot++)
			if (pivots[slot] >= addr || (slot && !pivots[slot]))
				break;
		if (bpf_probe_read_kernel(&entry, sizeof(entry), (void *)node + (type == 3 ?
				bpf_core_field_offset(struct maple_arange_64, slot) :
				bpf_core_field_offset(struct maple_range_64, slot)) +
				(slot & 15) * sizeof(__u64)))
			return 0;
		if (type == 1)
			return entry;
	}
	return 0;
}

/*
 * The mapping of the current process that holds addr, with its binary,
 * into *m: UBIN_OK, why not, or UBIN_NEW_FILE for a file whose first page
 * was not read yet (ufile_parse(m->file), then again).
 */
static __always_inline int umapping_of(__u64 addr, struct umapping *m)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct vm_area_struct *vma;
	struct ufile_key key = {};
	struct file *file;
	struct ufile *f;
	__u64 flags = 0;

	vma = (void *)uvma_find((__u64)mm, addr);
	/* vm_flags is const in 6.18: read into a plain word */
	if (!vma || BPF_CORE_READ(vma, vm_mm) != mm || BPF_CORE_READ(vma, vm_start) > addr ||
	    BPF_CORE_READ(vma, vm_end) <= addr ||
	    bpf_core_read(&flags, sizeof(flags), &vma->vm_flags) || !(flags & VM_EXEC))
		return UBIN_NOT_TEXT;
	file = BPF_CORE_READ(vma, vm_file);
	if (!file)
		return UBIN_NO_BINARY;
	ufile_key_of(file, &key);
	f = bpf_map_lookup_elem(&ufiles, &key);
	/* a page evicted, or the file being read in, is tried again a second later */
	if (!f || (!f->ok && bpf_ktime_get_ns() - f->ts_ns > 1000000000ULL)) {
		m->file = (__u64)file;
		return UBIN_NEW_FILE;
	}
	if (!f->ok)
		return UBIN_NO_BINARY;
	m->start = BPF_CORE_READ(vma, vm_start);
	m->end = BPF_CORE_READ(vma, vm_end);
	m->pgoff = BPF_CORE_READ(vma, vm_pgoff) << UBIN_PAGE_SHIFT;
	m->text_lo = f->text_lo;
	m->text_hi = f->text_hi;
	m->dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	m->ino = key.ino;
	m->id = f->id;
	return UBIN_OK;
}

#endif /* __UBINARY_BPF_H */
