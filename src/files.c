/* files.c - creating directories and replacing files safely.
 *
 * A file is replaced atomically: written to a temporary file beside it,
 * flushed to disk, renamed over the old one, and the directory flushed,
 * so a crash leaves the old contents or the new, never a mix.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"

int
file_mkdirs(const char *dir, struct diag *d)
{
	char path[FILE_MAX_PATH];
	size_t n = strlen(dir);
	char *p;

	if (n == 0 || n >= sizeof(path)) {
		diag_add(d, "%s: bad directory name", dir);
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			diag_add(d, "%s: cannot create directory: %s", path,
			    strerror(errno));
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		diag_add(d, "%s: cannot create directory: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
file_write_atomic(const char *path, const char *data, size_t len, unsigned mode,
    struct diag *d)
{
	char tmp[FILE_MAX_PATH + 32];
	char dir[FILE_MAX_PATH];
	const char *slash;
	int fd = -1, dfd = -1, ret = -1;
	size_t off = 0;
	ssize_t w;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		diag_add(d, "%s: path too long", path);
		return -1;
	}
	/* A new file of our own: a leftover of ours is replaced, and
	 * nothing planted under that name (a link, another user's file in
	 * a shared directory) is ever written through. */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    (mode_t)mode);
	if (fd < 0) {
		diag_add(d, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			diag_add(
			    d, "%s: write failed: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		diag_add(d, "%s: fsync failed: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		diag_add(d, "%s: close failed: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		diag_add(d, "%s: rename failed: %s", path, strerror(errno));
		goto out;
	}
	/* Make the rename itself durable. */
	slash = strrchr(path, '/');
	if (slash != NULL && (size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		dfd = open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_CLOEXEC);
		if (dfd >= 0)
			(void)fsync(dfd);
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (ret != 0)
		(void)unlink(tmp);
	return ret;
}
