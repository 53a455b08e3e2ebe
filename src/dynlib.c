/* dynlib.c - resolving functions of a dlopen()ed library; see dynlib.h. */
#include "dynlib.h"

#include <dlfcn.h>
#include <string.h>

/* dlsym() returns an object pointer; POSIX guarantees it converts to a
 * function pointer, which ISO C alone does not: copy the bits. */
int
dynlib_resolve(void *handle, void *fn_slot, size_t size, const char *name)
{
	void *sym = dlsym(handle, name);

	if (sym == NULL || size != sizeof(sym))
		return -1;
	memcpy(fn_slot, &sym, size);
	return 0;
}
