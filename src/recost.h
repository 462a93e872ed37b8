/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What an extended regex costs glibc's regcomp() before it is compiled:
 * regcomp copies the tree under each repetition (a+ is a a*, a{n,m} m
 * copies), so nested repetitions grow it exponentially ("a" and twenty "+"
 * took 700 MB, forty took all memory; found by tests/fuzz/fuzz_opts).
 */
#ifndef __KLEAK_RECOST_H
#define __KLEAK_RECOST_H

#include <stddef.h>

/* Nodes of the compiled tree a pattern may have at most (well under a MB, compiled in milliseconds). */
#define RECOST_MAX_NODES	2000

/*
 * An upper estimate of the nodes regcomp(REG_EXTENDED) builds for pattern,
 * capped just above RECOST_MAX_NODES: each atom (a character, an escape, a
 * bracket expression, a group) is one node or its contents, multiplied by 2
 * for +, by m + 1 for {n,m} and by n + 1 for {n,}.
 */
size_t recost__nodes(const char *pattern);

#endif /* __KLEAK_RECOST_H */
