#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frep/v1/health.pb-c.h"
#include "frep_client.h"

long long
tu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	char *path = NULL;
	if (asprintf(&path, "%s/frep-test-XXXXXX", base) < 0 || mkdtemp(path) == NULL) {
		fprintf(stderr, "tu_tmpdir: %s\n", strerror(errno));
		abort();
	}
	return path;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

void
tu_rmtree(const char *path)
{
	/* FREP_TEST_KEEP=1 keeps the temp dirs (stores, logs) to look at. */
	if (path != NULL && getenv("FREP_TEST_KEEP") != NULL) {
		fprintf(stderr, "FREP_TEST_KEEP: kept %s\n", path);
		return;
	}
	if (path != NULL) {
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

int
tu_frepd_start(tu_proc *p, const char *dir, const char *name, const char *const args[])
{
	const char *frepd = getenv("FREPD");
	if (frepd == NULL) {
		fprintf(stderr, "FREPD is not set (run the tests with ctest)\n");
		return -1;
	}
	snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", dir, name);
	size_t n      = 0;
	bool   has_db = false;
	while (args[n] != NULL) {
		has_db = has_db || strcmp(args[n], "--db") == 0;
		n++;
	}
	/* Every frepd a test starts has its own store in the test's temp dir,
	 * even one expected to refuse its flags before opening any. */
	char db[600];
	snprintf(db, sizeof(db), "%s/%s.db", dir, name);
	const char **argv = calloc(n + 4, sizeof(char *));
	size_t       k    = 0;
	argv[k++]         = frepd;
	if (!has_db) {
		argv[k++] = "--db";
		argv[k++] = db;
	}
	for (size_t i = 0; i < n; i++) {
		argv[k++] = args[i];
	}
	pid_t pid = fork();
	if (pid < 0) {
		free(argv);
		return -1;
	}
	if (pid == 0) {
		/* If the test process dies (a crash, a timeout), its servers go
		 * with it instead of lingering. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* A process group of its own: a server a test stops with SIGSTOP
		 * must stay stopped, and the kernel continues every stopped
		 * member of a process group that becomes orphaned (POSIX _exit:
		 * SIGHUP then SIGCONT), which a group shared with the test
		 * runner's other children becomes whenever the last of them with
		 * a parent outside it exits (seen: replication_test's SIGSTOPped
		 * partner answered, 1 run in 10 beside a looping job). */
		setpgid(0, 0);
		int fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
			close(fd);
		}
		execv(frepd, (char *const *) argv);
		_exit(127);
	}
	free(argv);
	p->pid = pid;
	return 0;
}

static void
health_done(const Frep__V1__HealthCheckResponse *msg, void *data)
{
	*(int *) data = msg != NULL ? (int) msg->status : -1;
}

int
tu_wait_healthy(const char *url, unsigned timeout_ms)
{
	frep_client        *c = NULL;
	frep_status         st;
	frep_client_options o      = {.timeout_ms = 200};
	long long           until  = tu_now_ms() + timeout_ms;
	int                 status = -1;

	if (frep_client_open(url, &o, &c, &st) != FREP_OK) {
		fprintf(stderr, "tu_wait_healthy: %s: %s\n", frep_code_name(st.code), st.message);
		return -1;
	}
	ProtobufCService *h = frep_client_service(c, &frep__v1__health__descriptor);
	while (tu_now_ms() < until) {
		Frep__V1__HealthCheckRequest req = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
		frep__v1__health__check(h, &req, health_done, &status);
		if (status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
			break;
		}
		struct timespec ts = {.tv_nsec = 10 * 1000000L};
		nanosleep(&ts, NULL); /* poll interval, bounded by timeout_ms */
	}
	frep_client_close(c);
	return status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING ? 0 : -1;
}

int
tu_client_ready(frep_client *c, unsigned timeout_ms)
{
	Frep__V1__HealthCheckRequest   req = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	Frep__V1__HealthCheckResponse *out = NULL;
	frep_status                    st;
	frep_call_options              co = {.timeout_ms = timeout_ms, .wait_for_ready = true};
	if (frep_client_call(c, "/frep.v1.Health/Check", &req.base,
		&frep__v1__health_check_response__descriptor, (ProtobufCMessage **) &out, &co,
		&st) != FREP_OK) {
		fprintf(stderr, "tu_client_ready: %s: %s\n", frep_code_name(st.code), st.message);
		return -1;
	}
	int serving = out->status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	protobuf_c_message_free_unpacked(&out->base, NULL);
	return serving ? 0 : -1;
}

int
tu_proc_stop(tu_proc *p, int sig, unsigned timeout_ms)
{
	int       status = 0;
	long long until  = tu_now_ms() + timeout_ms;
	if (p->pid <= 0) {
		return -1;
	}
	kill(p->pid, sig);
	while (tu_now_ms() < until) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid) {
			p->pid = 0;
			return status;
		}
		struct timespec ts = {.tv_nsec = 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	return -1;
}

void
tu_proc_dump_log(const tu_proc *p)
{
	FILE *f = fopen(p->log_path, "r");
	char  line[1024];
	if (f == NULL) {
		return;
	}
	fprintf(stderr, "--- %s ---\n", p->log_path);
	while (fgets(line, sizeof(line), f) != NULL) {
		fputs(line, stderr);
	}
	fclose(f);
}

const char *
tu_nng_leak_suppressions(void)
{
	static char supp[700];
	const char *src = getenv("FREP_SOURCE_DIR");
	snprintf(supp, sizeof(supp), "suppressions=%s/tests/nng_1518.supp", src ? src : ".");
	return supp;
}

int
tu_system(const char *fmt, ...)
{
	char   *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return -1;
	}
	int rc = system(cmd);
	free(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static int tu_skips;

void
tu_skip_note(const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("FREP-SKIP(%s): ", tag);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	tu_skips++;
}

int
tu_exit_code(int cmocka_rc)
{
	return cmocka_rc == 0 && tu_skips > 0 ? 77 : cmocka_rc;
}

long
tu_file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long) sb.st_size : 0;
}

int
tu_frepd_bound_url(
    const tu_proc *p, const char *scheme, long from, char *out, size_t n, unsigned timeout_ms)
{
	char      needle[64];
	long long until = tu_now_ms() + timeout_ms;
	snprintf(needle, sizeof(needle), "listening on %s", scheme);
	do {
		FILE *f = fopen(p->log_path, "r");
		char  line[1024];
		if (f != NULL && fseek(f, from, SEEK_SET) != 0) {
			fclose(f);
			f = NULL;
		}
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			char *at = strstr(line, needle);
			if (at != NULL) {
				at += strlen("listening on ");
				at[strcspn(at, " \r\n")] = '\0';
				snprintf(out, n, "%s", at);
				fclose(f);
				return 0;
			}
		}
		if (f != NULL) {
			fclose(f);
		}
		struct timespec ts = {.tv_nsec = 5 * 1000000L};
		nanosleep(&ts, NULL); /* poll interval, bounded by timeout_ms */
	} while (tu_now_ms() < until);
	return -1;
}

/* The ":port" of the authority part of url, or NULL. */
static const char *
url_port_text(const char *url)
{
	const char *host = strstr(url, "://");
	if (host == NULL) {
		return NULL;
	}
	host += 3;
	const char *end   = host + strcspn(host, "/");
	const char *colon = NULL;
	for (const char *q = host; q < end; q++) {
		if (*q == ':') {
			colon = q;
		}
	}
	return colon;
}

int
tu_url_port(const char *url)
{
	const char *c = url_port_text(url);
	return c != NULL ? atoi(c + 1) : -1;
}

bool
tu_url_port_is_zero(const char *url)
{
	const char *c = url_port_text(url);
	return c != NULL && c[1] == '0' && (c[2] == '\0' || c[2] == '/');
}
