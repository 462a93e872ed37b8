// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Output files written atomically, never through a planted symlink. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "outfile.h"

/* The directory path is in, as a new string: "." for a bare file name. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, slash - path);
}

static mode_t file_mode = 0600;

void outfile__set_mode(mode_t mode)
{
	file_mode = mode;
}

/* A new temporary file beside path, ".NAME.XXXXXX", mode 0600, open in *fd. */
static char *create_tmp(const char *path, int *fd)
{
	const char *slash = strrchr(path, '/');
	char *tmp;

	if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	/* mkstemp() creates with O_EXCL and mode 0600: a planted symlink is never followed */
	*fd = mkostemp(tmp, O_CLOEXEC);
	if (*fd < 0) {
		free(tmp);
		return NULL;
	}
	return tmp;
}

/*
 * Whether path, lstat() in *st, is a symlink the rename may replace: one to
 * a regular file or to nothing yet, not one into /proc (/dev/stdout is a
 * link to /proc/self/fd/1) nor to a device, a pipe or a directory.
 */
static bool replaceable_link(const char *path, struct stat *st)
{
	char target[16];
	ssize_t n;

	if (!S_ISLNK(st->st_mode))
		return false;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	if (!strncmp(target, "/proc/", 6))
		return false;
	return stat(path, st) ? errno == ENOENT : S_ISREG(st->st_mode);
}

int outfile__check(const char *path, const char *what)
{
	struct stat st;
	char *dir, *tmp;
	int err = 0, fd;

	if (!*path) {
		pr_err("%s: empty path", what);
		return -EINVAL;
	}
	dir = dir_of(path);
	if (!dir)
		return -ENOMEM;
	if (stat(dir, &st)) {
		err = -errno;
		pr_err("cannot write %s %s: directory %s: %s", what, path, dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		err = -ENOTDIR;
		pr_err("cannot write %s %s: %s is not a directory", what, path, dir);
	} else if (!lstat(path, &st)) {
		/*
		 * rename() replaces a symlink rather than following it, but a file
		 * of another user's (in a sticky /tmp, say) is theirs to keep.
		 */
		if (S_ISDIR(st.st_mode)) {
			err = -EISDIR;
			pr_err("cannot write %s %s: it is a directory", what, path);
		} else if (st.st_uid != geteuid()) {
			err = -EPERM;
			pr_err("cannot write %s %s: it belongs to uid %u, not to this user",
			       what, path, (unsigned int)st.st_uid);
		} else if (!S_ISREG(st.st_mode) && !replaceable_link(path, &st)) {
			/* the rename would replace /dev/null, or /dev/stdout's link, by a file */
			err = -EINVAL;
			pr_err("cannot write %s %s: not a regular file (kleak replaces the file "
			       "whole; for standard output leave the option out)", what, path);
		}
	} else if (errno != ENOENT) {
		err = -errno;
		pr_err("cannot write %s %s: %s", what, path, strerror(errno));
	}
	/*
	 * access() says yes to root where no file can be made (sysfs, a
	 * read-only mount): the one test is to make the temporary file.
	 */
	if (!err) {
		tmp = create_tmp(path, &fd);
		if (!tmp) {
			err = -errno;
			pr_err("cannot write %s %s: directory %s: %s", what, path, dir,
			       strerror(errno));
		} else {
			close(fd);
			unlink(tmp);
			free(tmp);
		}
	}
	free(dir);
	return err;
}

int outfile__open(struct outfile *of, const char *path)
{
	int fd, err;

	of->path = path;
	of->f = NULL;
	of->tmp = create_tmp(path, &fd);
	if (!of->tmp)
		return -errno;
	/* fchmod() gives the mode asked for whatever the umask */
	if (file_mode != 0600 && fchmod(fd, file_mode))
		goto err;
	of->f = fdopen(fd, "w");
	if (!of->f)
		goto err;
	return 0;
err:
	err = -errno;
	close(fd);
	unlink(of->tmp);
	free(of->tmp);
	of->tmp = NULL;
	return err;
}

/* Makes the rename durable; a filesystem that cannot sync a directory is not an error. */
static int sync_dir(const char *path)
{
	char *dir = dir_of(path);
	int fd, err = 0;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
	} else {
		if (fsync(fd) && errno != EINVAL)
			err = -errno;
		close(fd);
	}
	free(dir);
	return err;
}

int outfile__commit(struct outfile *of)
{
	struct stat st;
	int err = 0;

	if (fflush(of->f) || fsync(fileno(of->f)))
		err = -errno;
	if (fclose(of->f) && !err)
		err = -errno;
	of->f = NULL;
	/* a file another user put in its place since outfile__check() stays theirs */
	if (!err && !lstat(of->path, &st) && st.st_uid != geteuid())
		err = -EPERM;
	if (!err && rename(of->tmp, of->path))
		err = -errno;
	if (err) {
		unlink(of->tmp);
	} else {
		err = sync_dir(of->path);
	}
	free(of->tmp);
	of->tmp = NULL;
	return err;
}

void outfile__abort(struct outfile *of)
{
	if (of->f)
		fclose(of->f);
	of->f = NULL;
	if (of->tmp) {
		unlink(of->tmp);
		free(of->tmp);
	}
	of->tmp = NULL;
}
