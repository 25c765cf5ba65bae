#include "service_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
rpc_service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0') {
		return 0;
	}
	struct sockaddr_un sa  = {.sun_family = AF_UNIX};
	size_t             len = strlen(path);
	/* A path, or "@name" for the abstract namespace (leading NUL). */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0';
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -1;
	}
	socklen_t salen =
	    (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));
	ssize_t n =
	    sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *) &sa, salen);
	int err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	return 1;
}
