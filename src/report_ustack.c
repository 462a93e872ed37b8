// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* User frames in reports (see report_ustack.h). */
#include <string.h>
#include "report_ustack.h"

void report_ustack__frame_str(const struct model_uframe *f, char *buf, size_t size)
{
	const char *mod = f->module ? f->module : "?";

	if (f->sym)
		snprintf(buf, size, "%s (%s)%s%s", f->sym, mod, f->srcline ? " " : "",
			 f->srcline ?: "");
	else if (f->replaced)
		snprintf(buf, size, "[0x%llx in %s: replaced on disk by another build; build ID "
			 "%s ran]", (unsigned long long)f->offset, mod, f->build_id);
	else if (f->build_id[0])
		snprintf(buf, size, "0x%llx (%s, build ID %s)", (unsigned long long)f->offset,
			 mod, f->build_id);
	else
		snprintf(buf, size, "0x%016llx", (unsigned long long)f->offset);
}

void report_ustack__text(const struct model_site *s, FILE *out)
{
	const char *why = model__ustate_str(s->ustate);
	char buf[1024];
	size_t i;

	if (s->ustate == KLEAK_USTACK_OFF)
		return;
	if (why) {
		fprintf(out, "\t[%s]\n", why);
		return;
	}
	fputs("\t-- user --\n", out);
	for (i = 0; i < s->n_uframes; i++) {
		report_ustack__frame_str(&s->uframes[i], buf, sizeof(buf));
		fprintf(out, "\t%s\n", buf);
	}
}

void report_ustack__json(struct json_writer *w, const struct model_site *s)
{
	char off[32];
	size_t i;

	if (s->ustate == KLEAK_USTACK_OFF || !model__ustate_name(s->ustate))
		return;
	jsonw_string_field(w, "user_stack", model__ustate_name(s->ustate));
	jsonw_name(w, "user_frames");
	jsonw_start_array(w);
	for (i = 0; i < s->n_uframes; i++) {
		const struct model_uframe *f = &s->uframes[i];

		snprintf(off, sizeof(off), "0x%llx", (unsigned long long)f->offset);
		jsonw_start_object(w);
		jsonw_string_field(w, "sym", f->sym);
		jsonw_string_field(w, "module", f->module);
		jsonw_string_field(w, "build_id", f->build_id[0] ? f->build_id : NULL);
		jsonw_string_field(w, f->build_id[0] ? "offset" : "addr", off);
		jsonw_string_field(w, "srcline", f->srcline);
		jsonw_bool_field(w, "replaced", f->replaced);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}

bool report_ustack__in_run(const struct model *m)
{
	size_t i;

	for (i = STAT_USTACK_KTHREAD; i <= STAT_USTACK_NO_SAMPLE; i++)
		if (m->stats[i])
			return true;
	for (i = 0; i < m->n_sites; i++)
		if (m->sites[i].ustate != KLEAK_USTACK_OFF)
			return true;
	return false;
}

void report_ustack__not_seen(const struct model *m, FILE *out)
{
	const __u64 *st = m->stats;

	if (!report_ustack__in_run(m))
		return;
	fprintf(out, "user stacks: %llu allocations without one (%llu in kernel threads, %llu "
		"in softirq or hardirq, %llu walks failed), %llu not stored (ustacks map full), "
		"%llu with more frames than --ustack-depth; %llu processes whose mappings were "
		"missed (%llu announcements dropped); %llu user frames unresolved, %llu in "
		"binaries replaced on disk\n",
		(unsigned long long)(st[STAT_USTACK_KTHREAD] + st[STAT_USTACK_IRQ] +
				     st[STAT_USTACK_FAULT]),
		(unsigned long long)st[STAT_USTACK_KTHREAD], (unsigned long long)st[STAT_USTACK_IRQ],
		(unsigned long long)st[STAT_USTACK_FAULT],
		(unsigned long long)st[STAT_USTACK_MAP_FULL],
		(unsigned long long)st[STAT_USTACK_TRUNCATED],
		(unsigned long long)(st[STAT_USTACK_MAPS_MISSED] + st[STAT_USTACK_PROC_DROPPED]),
		(unsigned long long)st[STAT_USTACK_PROC_DROPPED],
		(unsigned long long)st[STAT_USTACK_UNRESOLVED],
		(unsigned long long)st[STAT_USTACK_REPLACED]);
	if (st[STAT_USTACK_CUT_NOT_TEXT] + st[STAT_USTACK_CUT_NO_BINARY] +
	    st[STAT_USTACK_CUT_NOT_LEARNED] + st[STAT_USTACK_CUT_NO_CFI] +
	    st[STAT_USTACK_CUT_FAULT] + st[STAT_USTACK_LEARN_DROPPED] + st[STAT_USTACK_CFI_MISSED])
		fprintf(out, "  walks cut where the next frame could not be proven: %llu at a word "
			"that is no return address (no executable mapping there, or past its "
			"binary's text), %llu in code of no file or of a binary whose build ID "
			"could not be read, %llu in binaries whose call frame information was not "
			"loaded yet (%llu requests lost, %llu binaries that could not be loaded), "
			"%llu where the call frame information has no rule kleak follows, %llu at "
			"an unreadable stack word\n",
			(unsigned long long)st[STAT_USTACK_CUT_NOT_TEXT],
			(unsigned long long)st[STAT_USTACK_CUT_NO_BINARY],
			(unsigned long long)st[STAT_USTACK_CUT_NOT_LEARNED],
			(unsigned long long)st[STAT_USTACK_LEARN_DROPPED],
			(unsigned long long)st[STAT_USTACK_CFI_MISSED],
			(unsigned long long)st[STAT_USTACK_CUT_NO_CFI],
			(unsigned long long)st[STAT_USTACK_CUT_FAULT]);
	if (st[STAT_USTACK_SAMPLE_DROPPED] + st[STAT_USTACK_SAMPLE_FAULT] +
	    st[STAT_USTACK_UNWIND_FAILED] + st[STAT_USTACK_NO_SAMPLE])
		fprintf(out, "  --ustack=dwarf: %llu samples lost (ring buffer full), %llu not taken "
			"(registers or stack unreadable), %llu unwound only part of the way (no call "
			"frame information, or past the stack copied); %llu outstanding allocations "
			"without a sample\n",
			(unsigned long long)st[STAT_USTACK_SAMPLE_DROPPED],
			(unsigned long long)st[STAT_USTACK_SAMPLE_FAULT],
			(unsigned long long)st[STAT_USTACK_UNWIND_FAILED],
			(unsigned long long)st[STAT_USTACK_NO_SAMPLE]);
}
