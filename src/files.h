/* files.h - creating directories and replacing files safely. */
#ifndef BACKBOT_FILES_H
#define BACKBOT_FILES_H

#include <stddef.h>

struct diag;

#define FILE_MAX_PATH 4096

/* Write 'len' bytes to 'path' atomically with mode 'mode' (temp file,
 * fsync, rename, fsync of the directory).  0, or -1 with the reason in
 * 'd'. */
int file_write_atomic(const char *path, const char *data, size_t len,
    unsigned mode, struct diag *d);

/* Create 'dir' and its parents with mode 0700 where missing.  0, or -1
 * with the reason in 'd'. */
int file_mkdirs(const char *dir, struct diag *d);

#endif
