// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The cost estimate --exclude patterns are refused by before regcomp(). */
#include "recost.h"
#include "test.h"

void test_recost_nodes(void)
{
	ASSERT_EQ(recost__nodes("abc"), 3, "three characters");
	ASSERT_EQ(recost__nodes("mas_alloc|\\[xfs\\]"), 15, "an alternation, escapes");
	ASSERT_EQ(recost__nodes("[]a+]"), 1, "a bracket expression is one atom");
	ASSERT_EQ(recost__nodes("[[:alpha:]]+"), 3, "a class inside, then +");
	ASSERT_EQ(recost__nodes("a+"), 3, "a+ is a a*");
	ASSERT_EQ(recost__nodes("a{3}"), 5, "{3}: the copies");
	ASSERT_TRUE(recost__nodes("a{500}") <= RECOST_MAX_NODES, "a long bound alone is fine");
	ASSERT_TRUE(recost__nodes("(foo|bar)+x") <= 20, "a group repeated");
	ASSERT_TRUE(recost__nodes("a+++") <= RECOST_MAX_NODES, "3 nested + fit");
	ASSERT_TRUE(recost__nodes("((a+)*)+") <= RECOST_MAX_NODES, "3 nested through groups");
	ASSERT_GT(recost__nodes("(((a+)*)+)*"), RECOST_MAX_NODES, "4 nested through groups");
	ASSERT_GT(recost__nodes("x*+++++++++"), RECOST_MAX_NODES, "few nodes, deep nesting");
	ASSERT_TRUE(recost__nodes("a+b+c+(d|e)*") <= RECOST_MAX_NODES, "repetitions side by side");
	ASSERT_GT(recost__nodes("a+++++++++++"), RECOST_MAX_NODES,
		  "11 nested + do not (20 took 700 MB)");
	ASSERT_GT(recost__nodes("((((((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+"),
		  RECOST_MAX_NODES, "nested through groups");
	ASSERT_GT(recost__nodes("(a{100}){100}{100}"), RECOST_MAX_NODES, "bounds multiply");
	ASSERT_GT(recost__nodes("a{99999999999999999999}"), RECOST_MAX_NODES, "a huge bound");
	ASSERT_EQ(recost__nodes(")a("), 3, "unbalanced parentheses: regcomp's to refuse");
}
