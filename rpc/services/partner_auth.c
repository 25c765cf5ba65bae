#include "partner_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "sha256.h"

#define REPLAY_MAX  PARTNER_AUTH_REPLAY_MAX
#define HORIZON_MAX 256 /* relationships remembered in the state file */
#define LEASE_MS    PARTNER_AUTH_LEASE_MS

static void
hmac_begin(engine_sha256 *inner, uint8_t opad[64], const char *secret)
{
	uint8_t key[64] = {0};
	uint8_t ipad[64];
	size_t  klen = strlen(secret);
	if (klen > 64) {
		engine_sha256 k;
		engine_sha256_init(&k);
		engine_sha256_update(&k, secret, klen);
		engine_sha256_final(&k, key);
	} else {
		memcpy(key, secret, klen);
	}
	for (int i = 0; i < 64; i++) {
		ipad[i] = key[i] ^ 0x36;
		opad[i] = key[i] ^ 0x5c;
	}
	engine_sha256_init(inner);
	engine_sha256_update(inner, ipad, 64);
	memset(key, 0, sizeof(key));
}

void
partner_auth_mac(const char *secret, const char *method, const char *relationship,
    const char *sender, int64_t timestamp_ms, const char *nonce, const uint8_t *payload, size_t len,
    char mac_hex[PARTNER_AUTH_MAC_HEXLEN])
{
	engine_sha256 inner, outer;
	uint8_t       opad[64], digest[ENGINE_SHA256_LEN];
	char          ts[32];
	hmac_begin(&inner, opad, secret);
	snprintf(ts, sizeof(ts), "%" PRId64, timestamp_ms);
	engine_sha256_update(&inner, "frep-partner-v2\n", 16);
	engine_sha256_update(&inner, method, strlen(method));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, relationship, strlen(relationship));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, sender, strlen(sender));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, ts, strlen(ts));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, nonce, strlen(nonce));
	engine_sha256_update(&inner, "\n", 1);
	engine_sha256_update(&inner, payload, len);
	engine_sha256_final(&inner, digest);
	engine_sha256_init(&outer);
	engine_sha256_update(&outer, opad, 64);
	engine_sha256_update(&outer, digest, sizeof(digest));
	engine_sha256_final_hex(&outer, mac_hex);
}

static void
random_hex(char out[33])
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b)) {
		/* Never expected; the timestamp and a counter still differ. */
		static _Atomic uint64_t counter;
		uint64_t                c = ++counter;
		memcpy(b, &c, sizeof(c));
		memset(b + 8, 0, 8);
	}
	for (int i = 0; i < 16; i++) {
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	}
}

void
partner_auth_nonce(char out[33])
{
	random_hex(out);
}

static pthread_mutex_t id_mtx = PTHREAD_MUTEX_INITIALIZER;
static char            server_id[PARTNER_AUTH_SENDER_LEN + 1];

const char *
partner_auth_server_id(void)
{
	pthread_mutex_lock(&id_mtx);
	if (server_id[0] == '\0') {
		random_hex(server_id);
	}
	pthread_mutex_unlock(&id_mtx);
	return server_id;
}

int64_t
partner_auth_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A MAC accepted: its 32 bytes, and when its timestamp leaves the window
 * (0: the ring slot was never used). */
typedef struct seen {
	uint8_t mac[32];
	int64_t expires_ms;
} seen;

/* The ring's index: open addressing with linear probing, twice the ring's
 * size; a slot holds a ring position + 1 (0: empty). Its key is the MAC's
 * first 8 bytes: MACs are checked genuine before they are looked up, so
 * no one without the secret chooses them. */
#define INDEX_SIZE (2 * REPLAY_MAX)
#define INDEX_MASK (INDEX_SIZE - 1)
_Static_assert((REPLAY_MAX & (REPLAY_MAX - 1)) == 0, "the replay memory is a power of two");

/* Per relationship (by the SHA-256 of its name): the bound loaded at
 * start (floor: every call accepted before the start was signed at or
 * below it), the newest timestamp accepted since (newest), and the bound
 * written since (leased: a lease ahead of a call that passed the previous
 * one; calls up to it are accepted without writing). */
typedef struct horizon {
	char    rel_hex[ENGINE_SHA256_LEN * 2 + 1];
	int64_t floor;
	int64_t newest;
	int64_t leased;
} horizon;

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* The newest timestamp a horizon knows or has promised on disk. */
static int64_t
horizon_ts(const horizon *h)
{
	return max64(max64(h->newest, h->floor), h->leased);
}

struct partner_auth_replay {
	pthread_mutex_t mtx;
	seen            ring[REPLAY_MAX]; /* oldest overwritten first */
	uint32_t        index[INDEX_SIZE];
	size_t          next;
	char           *path; /* NULL: RAM only */
	horizon         horizons[HORIZON_MAX];
	size_t          n_horizons;
	/* The newest timestamp of a relationship that gave way in the full
	 * table: as loaded at start (the floor of every relationship the table
	 * does not hold), and with those given way since (what is written). */
	int64_t forgotten_floor;
	int64_t forgotten;
	/* This server's clock when the newest lease written ends ("until" in
	 * the file): a process started before then waits for it (see
	 * partner_auth_replay_open). */
	int64_t until;
};

static size_t
mac_home(const uint8_t mac[32])
{
	uint64_t k;
	memcpy(&k, mac, sizeof(k));
	return (size_t) k & INDEX_MASK;
}

/* The ring position of mac, or -1 (expired entries included). */
static long
index_find(const partner_auth_replay *r, const uint8_t mac[32])
{
	for (size_t i = mac_home(mac); r->index[i] != 0; i = (i + 1) & INDEX_MASK) {
		if (memcmp(r->ring[r->index[i] - 1].mac, mac, 32) == 0) {
			return (long) r->index[i] - 1;
		}
	}
	return -1;
}

static void
index_insert(partner_auth_replay *r, size_t pos)
{
	size_t i = mac_home(r->ring[pos].mac);
	while (r->index[i] != 0) {
		i = (i + 1) & INDEX_MASK;
	}
	r->index[i] = (uint32_t) pos + 1;
}

/* Removes ring position pos from the index, shifting back the entries
 * after it that would no longer be found (Knuth's algorithm R). */
static void
index_remove(partner_auth_replay *r, size_t pos)
{
	size_t i = mac_home(r->ring[pos].mac);
	while (r->index[i] != (uint32_t) pos + 1) {
		if (r->index[i] == 0) {
			return; /* not there */
		}
		i = (i + 1) & INDEX_MASK;
	}
	for (size_t j = i;;) {
		j = (j + 1) & INDEX_MASK;
		if (r->index[j] == 0) {
			break;
		}
		size_t k = mac_home(r->ring[r->index[j] - 1].mac);
		/* The entry at j stays unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			r->index[i] = r->index[j];
			i           = j;
		}
	}
	r->index[i] = 0;
}

static int
hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

partner_auth_replay *
partner_auth_replay_new(void)
{
	partner_auth_replay *r = calloc(1, sizeof(*r));
	if (r != NULL) {
		pthread_mutex_init(&r->mtx, NULL);
		r->forgotten_floor = INT64_MIN;
		r->forgotten       = INT64_MIN;
		r->until           = INT64_MIN;
	}
	return r;
}

void
partner_auth_replay_free(partner_auth_replay *r)
{
	if (r != NULL) {
		pthread_mutex_destroy(&r->mtx);
		free(r->path);
		free(r);
	}
}

static bool
is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return s[n] == '\0';
}

/* Writes the state file whole: a temporary file, fsync, rename. */
static frep_code
state_write(partner_auth_replay *r, frep_status *st)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", r->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return frep_status_set(
		    st, FREP_UNAVAILABLE, "partner state file %s: %s", tmp, strerror(errno));
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	fprintf(f, "frep-partner-state 1\nid %s\n", server_id);
	for (size_t i = 0; i < r->n_horizons; i++) {
		int64_t ts = horizon_ts(&r->horizons[i]);
		fprintf(f, "accepted %s %" PRId64 "\n", r->horizons[i].rel_hex, ts);
	}
	if (r->forgotten != INT64_MIN) {
		fprintf(f, "forgotten %" PRId64 "\n", r->forgotten);
	}
	if (r->until != INT64_MIN) {
		fprintf(f, "until %" PRId64 "\n", r->until);
	}
	bool ok = fflush(f) == 0 && fsync(fd) == 0;
	int  e  = errno;
	ok      = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, r->path) != 0) {
		e = ok ? errno : e;
		unlink(tmp);
		return frep_status_set(
		    st, FREP_UNAVAILABLE, "partner state file %s: %s", r->path, strerror(e));
	}
	/* The rename is durable only once its directory is. */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", r->path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		e = errno;
		if (dfd >= 0) {
			close(dfd);
		}
		return frep_status_set(st, FREP_UNAVAILABLE,
		    "partner state file %s: its directory: %s", r->path, strerror(e));
	}
	close(dfd);
	return FREP_OK;
}

frep_code
partner_auth_replay_open(const char *path, partner_auth_replay **out, frep_status *st)
{
	partner_auth_replay *r = partner_auth_replay_new();
	if (r == NULL || (r->path = strdup(path)) == NULL) {
		partner_auth_replay_free(r);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED, "out of memory");
	}
	FILE *f = fopen(path, "r");
	if (f == NULL && errno != ENOENT) {
		frep_status_set(
		    st, FREP_INVALID_ARGUMENT, "partner state file %s: %s", path, strerror(errno));
		partner_auth_replay_free(r);
		return st->code;
	}
	char id[PARTNER_AUTH_SENDER_LEN + 1] = "";
	if (f != NULL) {
		char   line[256];
		size_t lineno = 0;
		while (fgets(line, sizeof(line), f) != NULL) {
			char    a[80], b[80];
			int64_t ts = 0;
			lineno++;
			if (lineno == 1 && strcmp(line, "frep-partner-state 1\n") == 0) {
				continue;
			}
			if (sscanf(line, "id %32s", a) == 1 && is_lower_hex(a, 32)) {
				memcpy(id, a, sizeof(id));
			} else if (sscanf(line, "accepted %70s %" SCNd64, b, &ts) == 2 &&
				   is_lower_hex(b, 64) && r->n_horizons < HORIZON_MAX) {
				horizon *h = &r->horizons[r->n_horizons++];
				memcpy(h->rel_hex, b, sizeof(h->rel_hex));
				h->floor  = ts;
				h->newest = INT64_MIN;
				h->leased = INT64_MIN;
			} else if (sscanf(line, "forgotten %" SCNd64, &ts) == 1) {
				r->forgotten_floor = ts;
				r->forgotten       = ts;
			} else if (sscanf(line, "until %" SCNd64, &ts) == 1 && ts >= 0) {
				r->until = ts;
			} else {
				fclose(f);
				frep_status_set(st, FREP_INVALID_ARGUMENT,
				    "partner state file %s: line %zu is malformed", path, lineno);
				partner_auth_replay_free(r);
				return st->code;
			}
		}
		fclose(f);
	}
	pthread_mutex_lock(&id_mtx);
	if (id[0] != '\0') {
		memcpy(server_id, id, sizeof(server_id));
	} else if (server_id[0] == '\0') {
		random_hex(server_id);
	}
	pthread_mutex_unlock(&id_mtx);
	if (id[0] == '\0' && state_write(r, st) != FREP_OK) {
		partner_auth_replay_free(r);
		return st->code;
	}
	/* Restarted inside the last lease: a call the partner signs now could
	 * be at or below a bound written ahead of it and would be refused
	 * until the lease ends. The lease ends on this clock at "until" (the
	 * partner's clock runs at the same rate, whatever its offset), so the
	 * start waits for it: at most LEASE_MS, should this clock have moved
	 * back. */
	int64_t wait = r->until == INT64_MIN ? 0 : r->until - partner_auth_now_ms();
	if (wait > 0) {
		nng_msleep((nng_duration) ((wait > LEASE_MS ? LEASE_MS : wait) + 10));
	}
	*out = r;
	return FREP_OK;
}

/* The relationship's horizon, made if new; NULL without a file. When the
 * table is full the one with the oldest timestamp gives way, and its
 * timestamp is kept as "forgotten": after a restart, a relationship the
 * table does not hold has that as its floor (a call captured for a
 * relationship that gave way is then still refused, however many others
 * came after it). A new horizon starts at the floor loaded at start. */
static horizon *
horizon_of(partner_auth_replay *r, const char *relationship)
{
	engine_sha256 h;
	char          hex[ENGINE_SHA256_LEN * 2 + 1];
	if (r->path == NULL) {
		return NULL;
	}
	engine_sha256_init(&h);
	engine_sha256_update(&h, relationship, strlen(relationship));
	engine_sha256_final_hex(&h, hex);
	for (size_t i = 0; i < r->n_horizons; i++) {
		if (strcmp(r->horizons[i].rel_hex, hex) == 0) {
			return &r->horizons[i];
		}
	}
	size_t i = r->n_horizons;
	if (i == HORIZON_MAX) {
		i = 0;
		for (size_t k = 1; k < HORIZON_MAX; k++) {
			if (horizon_ts(&r->horizons[k]) < horizon_ts(&r->horizons[i])) {
				i = k;
			}
		}
		if (horizon_ts(&r->horizons[i]) > r->forgotten) {
			r->forgotten = horizon_ts(&r->horizons[i]);
		}
		/* Its floor from before the start goes on binding whatever the
		 * table no longer holds in this run too: a call captured before
		 * the restart must not come back in once its relationship gave
		 * way (the MAC memory was empty at the start). */
		if (r->horizons[i].floor > r->forgotten_floor) {
			r->forgotten_floor = r->horizons[i].floor;
		}
	} else {
		r->n_horizons++;
	}
	/* Newest starts at what gave way in this run: the bound written for a
	 * relationship that comes back is never below one it had before it
	 * gave way (a delayed older call must not lower it on disk, letting
	 * the newer one in again after a restart). */
	r->horizons[i] =
	    (horizon){.floor = r->forgotten_floor, .newest = r->forgotten, .leased = INT64_MIN};
	memcpy(r->horizons[i].rel_hex, hex, sizeof(hex));
	return &r->horizons[i];
}

static bool
equal_const_time(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++) {
		d |= (unsigned char) (a[i] ^ b[i]);
	}
	return d == 0;
}

frep_code
partner_auth_verify(partner_auth_replay *r, const char *secret, const char *method,
    const char *relationship, const char *sender, const char *timestamp_text, const char *nonce,
    const char *mac_hex, const uint8_t *payload, size_t len, bool *replayed, frep_status *st)
{
	if (replayed != NULL) {
		*replayed = false;
	}
	if (sender == NULL || timestamp_text == NULL || nonce == NULL || mac_hex == NULL) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: partner call without %s, %s, %s and %s metadata (a partner older than "
		    "frep's MAC v2?)",
		    method, PARTNER_AUTH_KEY_SENDER, PARTNER_AUTH_KEY_TIMESTAMP,
		    PARTNER_AUTH_KEY_NONCE, PARTNER_AUTH_KEY_MAC);
	}
	if (strlen(sender) != PARTNER_AUTH_SENDER_LEN ||
	    !is_lower_hex(sender, PARTNER_AUTH_SENDER_LEN)) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: %s is not %d lower-case hex digits", method, PARTNER_AUTH_KEY_SENDER,
		    PARTNER_AUTH_SENDER_LEN);
	}
	size_t nlen = strlen(nonce);
	if (nlen == 0 || nlen > PARTNER_AUTH_NONCE_MAX) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: %s is %zu characters, not 1..%d", method, PARTNER_AUTH_KEY_NONCE, nlen,
		    PARTNER_AUTH_NONCE_MAX);
	}
	char   *end = NULL;
	int64_t ts  = strtoll(timestamp_text, &end, 10);
	if (timestamp_text[0] == '\0' || *end != '\0') {
		return frep_status_set(st, FREP_UNAUTHENTICATED, "%s: %s \"%.40s\" is not a number",
		    method, PARTNER_AUTH_KEY_TIMESTAMP, timestamp_text);
	}
	int64_t now = partner_auth_now_ms();
	if (ts < now - PARTNER_AUTH_WINDOW_MS || ts > now + PARTNER_AUTH_WINDOW_MS) {
		/* Both printed as they are: ts - now could overflow. */
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: timestamp %" PRId64 " is outside this server's clock %" PRId64
		    " +/- %d ms; check that the partners' clocks agree",
		    method, ts, now, PARTNER_AUTH_WINDOW_MS);
	}
	char expected[PARTNER_AUTH_MAC_HEXLEN];
	partner_auth_mac(secret, method, relationship, sender, ts, nonce, payload, len, expected);
	if (strlen(mac_hex) != PARTNER_AUTH_MAC_HEXLEN - 1 ||
	    !equal_const_time(expected, mac_hex, PARTNER_AUTH_MAC_HEXLEN - 1)) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: the MAC does not match relationship \"%s\"'s shared secret", method,
		    relationship);
	}
	/* Genuine, but made here: the relationship's other end is the only
	 * other holder of the secret, so this is our own call sent back. */
	if (strcmp(sender, partner_auth_server_id()) == 0) {
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: the call was signed by this server itself (%s %s): a reflected call "
		    "is refused",
		    method, PARTNER_AUTH_KEY_SENDER, sender);
	}
	uint8_t mac[32];
	for (size_t i = 0; i < sizeof(mac); i++) {
		/* Lower-case hex: it matched the expected MAC. */
		mac[i] = (uint8_t) (hex_value(mac_hex[2 * i]) << 4 | hex_value(mac_hex[2 * i + 1]));
	}
	pthread_mutex_lock(&r->mtx);
	long at = index_find(r, mac);
	if (at >= 0 && r->ring[at].expires_ms > now) {
		pthread_mutex_unlock(&r->mtx);
		if (replayed != NULL) {
			*replayed = true;
		}
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: replayed partner call (this MAC was already used)", method);
	}
	horizon *h = horizon_of(r, relationship);
	if (h != NULL && ts <= h->floor) {
		pthread_mutex_unlock(&r->mtx);
		return frep_status_set(st, FREP_UNAUTHENTICATED,
		    "%s: timestamp %" PRId64 " is not after the last call accepted for "
		    "relationship \"%s\" " PARTNER_AUTH_BEFORE_START PARTNER_AUTH_BOUND_TEXT
		    "%" PRId64 ", written %d ms ahead of the call that set it; beyond the %d "
		    "relationships it tracks, they share one such bound): a replay, or a call "
		    "signed before the restart; retry",
		    method, ts, relationship, h->floor, LEASE_MS, HORIZON_MAX);
	}
	if (r->ring[r->next].expires_ms > now) {
		/* The oldest MAC remembered could still be replayed: forgetting it
		 * to make room would let that call in again. Refused, and the
		 * horizon not moved: the sender may sign it afresh and retry. */
		pthread_mutex_unlock(&r->mtx);
		return frep_status_set(st, FREP_RESOURCE_EXHAUSTED,
		    "%s: the last %d partner calls accepted are all still inside the replay "
		    "window of +/- %d ms (more than about %d calls a second): this one is "
		    "refused rather than forget one of them; retry",
		    method, REPLAY_MAX, PARTNER_AUTH_WINDOW_MS,
		    REPLAY_MAX / (PARTNER_AUTH_WINDOW_MS / 1000));
	}
	if (h != NULL && ts > h->leased) {
		/* Remembered on disk before it is accepted, a lease ahead: the
		 * bound written is ts + LEASE_MS, so the calls of the next
		 * LEASE_MS (a replication's several calls, a busy pair's stream)
		 * are accepted without another write and fsync. After a restart
		 * every timestamp up to the bound is refused: all that was
		 * accepted, and what the partner signed in the rest of the lease
		 * (the start waits that out; see partner_auth_replay_open). */
		int64_t old_leased = h->leased, old_until = r->until;
		h->leased = ts + LEASE_MS;
		r->until  = max64(r->until, now + LEASE_MS);
		if (state_write(r, st) != FREP_OK) {
			h->leased = old_leased;
			r->until  = old_until;
			pthread_mutex_unlock(&r->mtx);
			return st->code;
		}
	}
	if (h != NULL && ts > h->newest) {
		h->newest = ts;
	}
	if (r->ring[r->next].expires_ms != 0) {
		index_remove(r, r->next); /* expired: forgotten */
	}
	memcpy(r->ring[r->next].mac, mac, sizeof(mac));
	r->ring[r->next].expires_ms = ts + PARTNER_AUTH_WINDOW_MS + 1;
	index_insert(r, r->next);
	r->next = (r->next + 1) % REPLAY_MAX;
	pthread_mutex_unlock(&r->mtx);
	return FREP_OK;
}

bool
partner_auth_refused_before_start(const char *message, int64_t *bound_ms)
{
	/* The last occurrence: the relationship's name comes before it in the
	 * message and could contain the same words. */
	const char *p = NULL;
	for (const char *q = message;
	     q != NULL && (q = strstr(q, PARTNER_AUTH_BEFORE_START)) != NULL; q++) {
		p = q;
	}
	if (p == NULL) {
		return false;
	}
	p += strlen(PARTNER_AUTH_BEFORE_START);
	if (strncmp(p, PARTNER_AUTH_BOUND_TEXT, strlen(PARTNER_AUTH_BOUND_TEXT)) != 0) {
		return false;
	}
	char   *end = NULL;
	int64_t b   = strtoll(p + strlen(PARTNER_AUTH_BOUND_TEXT), &end, 10);
	if (end == p + strlen(PARTNER_AUTH_BOUND_TEXT)) {
		return false;
	}
	*bound_ms = b;
	return true;
}
