/* dynlib.h - functions of a shared library opened at run time.
 *
 * libcurl (Matrix) and libedit (the terminal chat) are opened with
 * dlopen() only by the front ends that use them; this fills their
 * function pointers.
 */
#ifndef BACKBOT_DYNLIB_H
#define BACKBOT_DYNLIB_H

#include <stddef.h>

/* Store the address of function 'name' of the library 'handle' (from
 * dlopen()) in the function pointer at 'fn_slot', of 'size' bytes.
 * Returns 0, or -1 when the library has no such symbol. */
int dynlib_resolve(void *handle, void *fn_slot, size_t size, const char *name);

#endif
