/*
 * frep_status: the one status type of the project.
 *
 * Codes are numbered as gRPC's (and as frep.rpc.v1.Code on the wire). The
 * engine returns them, the RPC runtime puts them on the wire unchanged, and
 * the clients hand them back to callers. A status carries a message that
 * names the field and the value at fault.
 */
#ifndef FREP_PROTO_FREP_STATUS_H
#define FREP_PROTO_FREP_STATUS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* X(NAME, number, short description) — the single list the enum, the names
 * and the descriptions are generated from. */
#define FREP_CODE_LIST(X)                                                                          \
	X(OK, 0, "ok")                                                                             \
	X(CANCELLED, 1, "the call was cancelled")                                                  \
	X(UNKNOWN, 2, "unknown error")                                                             \
	X(INVALID_ARGUMENT, 3, "invalid argument")                                                 \
	X(DEADLINE_EXCEEDED, 4, "deadline exceeded")                                               \
	X(NOT_FOUND, 5, "not found")                                                               \
	X(ALREADY_EXISTS, 6, "already exists")                                                     \
	X(PERMISSION_DENIED, 7, "permission denied")                                               \
	X(RESOURCE_EXHAUSTED, 8, "resource exhausted")                                             \
	X(FAILED_PRECONDITION, 9, "failed precondition")                                           \
	X(ABORTED, 10, "aborted")                                                                  \
	X(OUT_OF_RANGE, 11, "out of range")                                                        \
	X(UNIMPLEMENTED, 12, "unimplemented")                                                      \
	X(INTERNAL, 13, "internal error")                                                          \
	X(UNAVAILABLE, 14, "unavailable")                                                          \
	X(DATA_LOSS, 15, "data loss")                                                              \
	X(UNAUTHENTICATED, 16, "unauthenticated")

typedef enum frep_code {
#define FREP__CODE_ENUM(name, num, str) FREP_##name = num,
	FREP_CODE_LIST(FREP__CODE_ENUM)
#undef FREP__CODE_ENUM
} frep_code;

#define FREP_CODE_MAX           16
#define FREP_STATUS_MESSAGE_MAX 512

typedef struct frep_status {
	frep_code code;
	char      message[FREP_STATUS_MESSAGE_MAX];
} frep_status;

/* "INVALID_ARGUMENT"; "CODE_<n>" style text is never returned: an unknown
 * number gives "UNKNOWN_CODE". Never NULL. */
const char *frep_code_name(int code);

/* A short English description of the code. Never NULL. */
const char *frep_code_str(int code);

/* Parses "NOT_FOUND" (case-insensitive) into *code; 0 on success, -1 if
 * the name is not a code. */
int frep_code_parse(const char *name, frep_code *code);

/* Length of the longest prefix of p[0..len) that is valid UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
size_t frep_utf8_valid_prefix(const uint8_t *p, size_t len);

/* Copies text into out (size cap > 0, always NUL-terminated) so that the
 * result is valid UTF-8: each byte that is not part of a valid sequence
 * becomes "\xNN"; a copy that does not fit is cut at a character. */
void frep_utf8_sanitize(const char *text, char *out, size_t cap);

/* Sets st->code and formats st->message; returns code. The message is
 * always valid UTF-8 (bytes that are not become "\xNN", a cut drops an
 * incomplete character). st may be NULL, in
 * which case only the code is returned. Thread-safe for distinct st. */
frep_code frep_status_set(frep_status *st, frep_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
frep_code frep_status_setv(frep_status *st, frep_code code, const char *fmt, va_list ap);

/* Resets st to OK with an empty message. st may be NULL. */
void frep_status_clear(frep_status *st);

/* Copies src into dst (either may be NULL: then nothing happens). */
void frep_status_copy(frep_status *dst, const frep_status *src);

#endif /* FREP_PROTO_FREP_STATUS_H */
