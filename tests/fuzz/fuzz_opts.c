// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the option parser (opts__parse()) on an argv made of the
 * input's NUL-separated words after "kleak". A usage error exits with 64, and
 * --help and --version with 0: exit() is wrapped (-Wl,--wrap=exit) to come
 * back here by longjmp instead, where the parse is then over. That skips
 * argp_parse()'s own cleanup, so what it allocated and has not freed is
 * freed here (argp_parse is wrapped too, and the allocator's hooks list what
 * it allocates), as exit would have done for the real kleak.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <argp.h>
#include <sanitizer/allocator_interface.h>
#include "opts.h"

#define MAX_ARGS	64
#define MAX_LIVE	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
void __wrap_exit(int status);
void __real_exit(int status) __attribute__((noreturn));
error_t __wrap_argp_parse(const struct argp *argp, int argc, char **argv, unsigned int flags,
			  int *arg_index, void *input);
error_t __real_argp_parse(const struct argp *argp, int argc, char **argv, unsigned int flags,
			  int *arg_index, void *input);

static jmp_buf back;
/* only the parser's exits come back: libFuzzer's own exit() must exit */
static volatile bool parsing;
static volatile bool in_argp;
static const volatile void *live[MAX_LIVE];

static void on_malloc(const volatile void *p, size_t size)
{
	int i;

	if (!in_argp)
		return;
	for (i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = p;
			return;
		}
}

static void on_free(const volatile void *p)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++)
		if (live[i] == p)
			live[i] = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* --help prints: no stdout buffer allocated inside argp, to be freed here */
	setvbuf(stdout, NULL, _IONBF, 0);
	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
	return 0;
}

error_t __wrap_argp_parse(const struct argp *argp, int argc, char **argv, unsigned int flags,
			  int *arg_index, void *input)
{
	error_t err;

	in_argp = true;
	err = __real_argp_parse(argp, argc, argv, flags, arg_index, input);
	in_argp = false;
	return err;
}

void __wrap_exit(int status)
{
	if (parsing)
		longjmp(back, status + 1);
	__real_exit(status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct env env;
	char *argv[MAX_ARGS + 2], *text;
	int argc = 1, i;
	size_t j;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[0] = "kleak";
	for (j = 0; j <= size && argc <= MAX_ARGS; j++) {
		argv[argc++] = text + j;
		j += strlen(text + j);
	}
	argv[argc] = NULL;
	memset(&env, 0, sizeof(env));
	parsing = true;
	if (setjmp(back)) {
		in_argp = false;
		/* kleak's own first (the --exclude regex), then what argp left */
		opts__free(&env);
		for (i = 0; i < MAX_LIVE; i++)
			if (live[i]) {
				free((void *)live[i]);
				live[i] = NULL;
			}
	} else {
		opts__parse(argc, argv, &env);
		opts__free(&env);
	}
	parsing = false;
	free(text);
	return 0;
}
