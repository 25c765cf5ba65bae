/*
 * frep_secret_file: see frep_secret_file.h.
 */
#include "frep_secret_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

int
frep_secret_file_read_token(FILE *err, const char *prog, const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(err, "%s: INVALID_ARGUMENT: --token-file %s: %s\n", prog, path,
		    strerror(errno));
		return -1;
	}
	char   *line = NULL;
	size_t  cap  = 0;
	ssize_t n    = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) {
		line[--n] = '\0';
	}
	if (n <= 0) {
		free(line);
		fprintf(err, "%s: INVALID_ARGUMENT: --token-file %s holds no token\n", prog, path);
		return -1;
	}
	*out = line;
	return 0;
}
