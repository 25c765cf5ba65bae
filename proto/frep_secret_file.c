/*
 * frep_secret_file: see frep_secret_file.h.
 */
#include "frep_secret_file.h"

#include <sys/stat.h>

bool
frep_secret_file_warn_if_open(FILE *err, const char *prog, const char *option, const char *path)
{
	struct stat sb;
	if (path == NULL || stat(path, &sb) != 0 || (sb.st_mode & (S_IRWXG | S_IRWXO)) == 0) {
		return false;
	}
	fprintf(err,
	    "%s: warning: %s %s is accessible by its group or others (mode %04o); it holds a "
	    "secret: chmod 600 it\n",
	    prog, option, path, (unsigned) (sb.st_mode & 07777));
	return true;
}
