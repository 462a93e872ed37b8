// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Saved-run format 3's user frames: a site's user stack state and frames
 * (symbolized, unresolved, from a replaced binary, a raw address) read back
 * as written, and report and diff show them from the file alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include "diff.h"
#include "record.h"
#include "report.h"
#include "test.h"

static struct model *ustack_model(void)
{
	struct model *m = model__new();
	struct model_site *s, *k;

	if (!m)
		return NULL;
	m->meta.version = strdup("0.1.0");
	m->meta.kernel = strdup("6.18.0");
	m->meta.hostname = strdup("h");
	m->meta.boot_id = strdup("b");
	m->meta.cmdline = strdup("kleak --ustack");
	m->meta.filters = strdup("none");
	m->meta.attach = strdup("tp_btf");
	m->meta.sample_rate = 1;
	s = model__add_site(m);
	s->kind = KLEAK_SITE_CACHE;
	strcpy(s->cache, "filp");
	s->obj_size = 192;
	s->count = 3;
	s->bytes = 576;
	s->allocs = 3;
	s->n_ages = 3;
	s->ages_ms = calloc(3, sizeof(*s->ages_ms));
	s->ustate = KLEAK_USTACK_OK;
	s->n_uframes = 3;
	s->uframes = calloc(3, sizeof(*s->uframes));
	s->uframes[0].sym = strdup("ns::Files::open(std::string const&)+0x1c");
	s->uframes[0].module = strdup("/opt/app bin/client");
	s->uframes[0].srcline = strdup("client.cc:12");
	strcpy(s->uframes[0].build_id, "00112233445566778899aabbccddeeff00112233");
	s->uframes[0].offset = 0x1234;
	s->uframes[1].module = strdup("/opt/app/old");
	strcpy(s->uframes[1].build_id, "ffeeddccbbaa99887766554433221100ffeeddcc");
	s->uframes[1].offset = 0x99;
	s->uframes[1].replaced = true;
	s->uframes[2].offset = 0x7fff12345678;
	k = model__add_site(m);
	k->kind = KLEAK_SITE_KMALLOC;
	strcpy(k->cache, "kmalloc-64");
	k->obj_size = 64;
	k->count = 1;
	k->n_ages = 1;
	k->ages_ms = calloc(1, sizeof(*k->ages_ms));
	k->ustate = KLEAK_USTACK_IRQ;
	return m;
}

static bool uframe_equal(const struct model_uframe *a, const struct model_uframe *b)
{
	return a->offset == b->offset && a->replaced == b->replaced &&
	       !strcmp(a->build_id, b->build_id) &&
	       (a->sym ? b->sym && !strcmp(a->sym, b->sym) : !b->sym) &&
	       (a->module ? b->module && !strcmp(a->module, b->module) : !b->module) &&
	       (a->srcline ? b->srcline && !strcmp(a->srcline, b->srcline) : !b->srcline);
}

static char *print_of(const struct model *m)
{
	struct report_opts o = { .top = 0, .max_size = ~0ULL };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	report__print(m, &o, f);
	fclose(f);
	return buf;
}

void test_record_ustack_roundtrip(void)
{
	char dir[] = "/tmp/kleak-test-XXXXXX", path[64], *text = NULL;
	struct model *m = ustack_model(), *back = NULL;
	size_t i;

	if (!ASSERT_OK_PTR(m, "model") || !ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		goto out;
	snprintf(path, sizeof(path), "%s/u.kleak", dir);
	if (!ASSERT_OK(record__write(m, path), "write") ||
	    !ASSERT_OK(record__read(path, &back), "read back"))
		goto out;
	ASSERT_EQ(back->sites[0].ustate, (__u32)KLEAK_USTACK_OK, "state");
	ASSERT_EQ(back->sites[1].ustate, (__u32)KLEAK_USTACK_IRQ, "kernel-only state");
	if (ASSERT_EQ(back->sites[0].n_uframes, (size_t)3, "user frames"))
		for (i = 0; i < 3; i++)
			ASSERT_TRUE(uframe_equal(&m->sites[0].uframes[i], &back->sites[0].uframes[i]),
				    "frame as written");
	text = print_of(back);
	if (ASSERT_OK_PTR(text, "report")) {
		ASSERT_OK_PTR(strstr(text, "\tns::Files::open(std::string const&)+0x1c "
				  "(/opt/app bin/client) client.cc:12\n"), "the symbolized frame");
		ASSERT_OK_PTR(strstr(text, "in /opt/app/old: replaced on disk by another build"),
			      "the replaced binary said");
		ASSERT_OK_PTR(strstr(text, "\t0x00007fff12345678\n"), "the raw address");
		ASSERT_OK_PTR(strstr(text, "[no user context: softirq or hardirq]"),
			      "the kernel-only site said");
	}
out:
	free(text);
	if (back)
		unlink(path);
	rmdir(dir);
	model__free(m);
	model__free(back);
}

/* Reads a file of the uframe model with its user stack lines replaced by body. */
static int read_with(const char *path, const char *body, bool quiet)
{
	struct model *m = ustack_model();
	char *text = NULL, *at, *end, *buf = NULL;
	size_t len = 0, n_uframes = m->sites[0].n_uframes, n_sites = m->n_sites;
	int err = -ENOMEM, err_fd, null_fd, n, werr;
	FILE *f;

	m->sites[0].n_uframes = 0;
	m->n_sites = 1;
	werr = record__write(m, path);
	/* back as built, so that model__free() frees all of it */
	m->sites[0].n_uframes = n_uframes;
	m->n_sites = n_sites;
	if (werr || !(f = fopen(path, "r")))
		goto out;
	if (getdelim(&text, &len, '\0', f) < 0)
		len = 0;
	fclose(f);
	at = text ? strstr(text, "ustack captured\n") : NULL;
	end = text ? strstr(text, "\nend ") : NULL;
	if (!at || !end)
		goto out;
	n = asprintf(&buf, "%.*s%s%.*s\n", (int)(at - text), text, body,
		     (int)(end - at - strlen("ustack captured\n")), at + strlen("ustack captured\n"));
	f = n < 0 ? NULL : fopen(path, "w");
	if (!f)
		goto out;
	fprintf(f, "%send 1 %08lx\n", buf,
		(unsigned long)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)buf, n));
	fclose(f);
	model__free(m);
	m = NULL;
	/* the reader's one error line is expected: kept off the test output */
	fflush(stderr);
	err_fd = dup(2);
	null_fd = open("/dev/null", O_WRONLY);
	if (quiet)
		dup2(null_fd, 2);
	err = record__read(path, &m);
	dup2(err_fd, 2);
	close(err_fd);
	close(null_fd);
out:
	free(text);
	free(buf);
	model__free(m);
	return err;
}

/* A uframe outside a captured site's block, or malformed, is refused. */
void test_record_ustack_bad(void)
{
	static const char *const bodies[] = {
		/* the control: read */
		"ustack captured\nuframe - 0x1 - - - 0\n",
		"uframe - 0x1 - - - 0\n",
		"ustack bogus\n",
		"ustack captured\nustack captured\n",
		"ustack irq\nuframe - 0x1 - - - 0\n",
		"ustack captured\nuframe - 1 - - - 0\n",
		"ustack captured\nuframe XYZ 0x1 - - - 0\n",
		"ustack captured\nuframe 0011 0x1 - - - 0\n",
		"ustack captured\nuframe - 0x1 - - - 2\n",
		"ustack captured\nuframe - 0x1 - - -\n",
	};
	char dir[] = "/tmp/kleak-test-XXXXXX", path[64];
	size_t i;
	int err;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/b.kleak", dir);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		err = read_with(path, bodies[i], i > 0);
		ASSERT_TRUE(i ? err < 0 && err != -ENOMEM : !err, bodies[i]);
	}
	unlink(path);
	rmdir(dir);
}

static char *diff_of(const struct model *a, const struct model *b)
{
	struct diff_opts o = { .top = 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	diff__print(a, b, &o, f);
	fclose(f);
	return buf;
}

static size_t count_of(const char *text, const char *word)
{
	size_t n = 0;

	for (; (text = strstr(text, word)); text += strlen(word))
		n++;
	return n;
}

/*
 * kleak diff matches user frames by function and binary name: another
 * offset (another build, another boot) is the same site, another method is
 * another site.
 */
void test_record_ustack_diff(void)
{
	struct model *a = ustack_model(), *b = ustack_model(), *c = ustack_model();
	char *same = NULL, *other = NULL;

	if (!ASSERT_OK_PTR(a, "a") || !ASSERT_OK_PTR(b, "b") || !ASSERT_OK_PTR(c, "c"))
		goto out;
	free(b->sites[0].uframes[0].sym);
	b->sites[0].uframes[0].sym = strdup("ns::Files::open(std::string const&)+0x99");
	b->sites[0].uframes[0].offset = 0x5678;
	b->sites[0].count = 5;
	free(c->sites[0].uframes[0].sym);
	c->sites[0].uframes[0].sym = strdup("ns::Sockets::make(int)+0x1c");
	same = diff_of(a, b);
	other = diff_of(a, c);
	if (!ASSERT_OK_PTR(same, "diff") || !ASSERT_OK_PTR(other, "diff"))
		goto out;
	ASSERT_EQ(count_of(same, "only-A") + count_of(same, "only-B"), (size_t)0,
		  "another offset of the same method: matched");
	ASSERT_OK_PTR(strstr(same, "ns::Files::open(std::string const&) (client)"),
		      "the user frame shown, without its offset");
	ASSERT_EQ(count_of(other, "only-A"), (size_t)1, "the method A had: only in A");
	ASSERT_EQ(count_of(other, "only-B"), (size_t)1, "the method B has: only in B");
out:
	free(same);
	free(other);
	model__free(a);
	model__free(b);
	model__free(c);
}
