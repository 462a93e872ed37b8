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

/* Nodes of the compiled tree a pattern may have at most (well under a MB). */
#define RECOST_MAX_NODES	2000

/*
 * Repetitions one atom may be under (a+ 1, (a+)* 2): regcomp's epsilon
 * closures grow exponentially with more, with few nodes (x*+++++++++ took
 * over 10 s under ASan; found by the fuzzer too).
 */
#define RECOST_MAX_NESTING	3

/*
 * An upper estimate of the nodes regcomp(REG_EXTENDED) builds for pattern,
 * capped just above RECOST_MAX_NODES: each atom (a character, an escape, a
 * bracket expression, a group) is one node or its contents, multiplied by 2
 * for +, by m + 1 for {n,m} and by n + 1 for {n,}; more than
 * RECOST_MAX_NODES for an atom under more than RECOST_MAX_NESTING repetitions.
 */
size_t recost__nodes(const char *pattern);

#endif /* __KLEAK_RECOST_H */
