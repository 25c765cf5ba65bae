/*
 * frep_secret_file: the one check frepd and frepctl make of a file that
 * holds a secret (an admin token, a shared secret, a TLS key): a file its
 * group or others can read or write is warned about, as ssh refuses such
 * keys (a warning, not a refusal: docs/SECURITY.md says why); and the one
 * way both read the admin token from --token-file.
 */
#ifndef FREP_PROTO_FREP_SECRET_FILE_H
#define FREP_PROTO_FREP_SECRET_FILE_H

#include <stdbool.h>
#include <stdio.h>

/* When path (NULL: nothing) is open to its group or others, writes to err
 * "<prog>: warning: <option> <path> is accessible by its group or others
 * (mode 0644); it holds a secret: chmod 600 it" and returns true. A file
 * that cannot be stat'ed is left to the caller's open to report. */
bool frep_secret_file_warn_if_open(
    FILE *err, const char *prog, const char *option, const char *path);

/* Reads the token of --token-file path: its first line, without trailing
 * newlines, carriage returns and spaces, into *out (malloc'd; the caller
 * frees it) and returns 0. A file that cannot be opened or holds no token
 * is written to err as "<prog>: INVALID_ARGUMENT: --token-file <path>: …"
 * and returns -1. */
int frep_secret_file_read_token(FILE *err, const char *prog, const char *path, char **out);

#endif /* FREP_PROTO_FREP_SECRET_FILE_H */
