/* lineedit.c - libedit's readline(), opened on first use; see
 * lineedit.h. */
#include "lineedit.h"

#include <dlfcn.h>
#include <stddef.h>

#include "dynlib.h"

#define LIBEDIT_SONAME "libedit.so.2"

/* The libedit functions used, resolved at run time. */
static struct {
	char *(*readline)(const char *prompt);
	int (*add_history)(const char *line);
	void *handle; /* from dlopen(), NULL until loaded */
	bool tried;
} libedit;

bool
lineedit_available(void)
{
	if (libedit.tried)
		return libedit.handle != NULL;
	libedit.tried = true;
	libedit.handle = dlopen(LIBEDIT_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (libedit.handle == NULL)
		return false;
	if (dynlib_resolve(libedit.handle, &libedit.readline,
	        sizeof(libedit.readline), "readline") == -1 ||
	    dynlib_resolve(libedit.handle, &libedit.add_history,
	        sizeof(libedit.add_history), "add_history") == -1) {
		dlclose(libedit.handle);
		libedit.handle = NULL;
		return false;
	}
	return true;
}

char *
lineedit_read(const char *prompt)
{
	char *s;

	if (!lineedit_available())
		return NULL;
	s = libedit.readline(prompt);
	if (s != NULL && s[0] != '\0')
		(void)libedit.add_history(s);
	return s;
}
