#include "config.h"

#include "leader.h"
#include "civil.h"
#include "err.h"
#include "kclient.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEASES_API "/apis/coordination.k8s.io/v1/namespaces"
/* client-go requires renewDeadline > JitterFactor * retryPeriod. */
#define JITTER_FACTOR 1.2
/* A Lease's name and namespace go into the request path unescaped. */
#define NAME_MAX_LEN 253

struct leader {
	struct kclient *client;
	char *identity;
	char *ns, *name;  /* the Lease's namespace and name */
	char *desc;       /* "namespace/name", for messages */
	char *path;       /* the Lease */
	char *collection; /* its namespace's leases */
	long lease_ms, renew_deadline_ms, retry_ms;
	long request_timeout_ms;
	struct leader_callbacks cb;

	struct leader_record observed; /* the record as last read or written */
	bool have_observed;
	int64_t observed_ms;       /* our clock when observed last changed */
	struct json_object *lease; /* our own last write while we lead, else NULL */
	bool leading;
	int64_t renewed_ms; /* our last successful acquire or renew */
	char *reported;     /* the holder last given to on_new_leader, or NULL */
	int64_t next_ms;
	bool released;
	struct cx_err last_err;
	char logged[CX_ERR_MSG_MAX]; /* the last error message logged, "" when none */
};

/* ---- MicroTime ---- */

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the epoch. */
#define MICROTIME_MIN_S (-62167219200LL)
#define MICROTIME_MAX_S 253402300799LL

int leader_microtime_format(int64_t unix_us, char buf[static LEADER_MICROTIME_LEN])
{
	int64_t secs = unix_us / 1000000, us = unix_us % 1000000;
	if (us < 0) {
		us += 1000000;
		secs--;
	}
	if (secs < MICROTIME_MIN_S || secs > MICROTIME_MAX_S) {
		buf[0] = '\0';
		return -ERANGE;
	}
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t sod = secs - days * 86400, y;
	int month, day;
	civil_date_from_days(days, &y, &month, &day);
	int year = (int)y;
	int n = snprintf(buf, LEADER_MICROTIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", year, month, day,
			 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)us);
	return n == LEADER_MICROTIME_LEN - 1 ? 0 : -ERANGE;
}

/* Reads exactly n digits at *p into *out and moves past them. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];
		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (ch - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool literal(const char **p, const char *one_of)
{
	if (**p && strchr(one_of, **p)) {
		(*p)++;
		return true;
	}
	return false;
}

int leader_microtime_parse(const char *s, int64_t *unix_us)
{
	if (!s)
		return -EINVAL;
	const char *p = s;
	int year, month, day, hour, min, sec;
	if (!digits(&p, 4, &year) || !literal(&p, "-") || !digits(&p, 2, &month) || !literal(&p, "-") ||
	    !digits(&p, 2, &day) || !literal(&p, "Tt") || !digits(&p, 2, &hour) || !literal(&p, ":") ||
	    !digits(&p, 2, &min) || !literal(&p, ":") || !digits(&p, 2, &sec))
		return -EINVAL;
	int64_t secs;
	if (sec > 59 || civil_to_unix(year, month, day, hour, min, sec, &secs))
		return -EINVAL;
	int64_t us = 0;
	if (literal(&p, ".")) {
		int n = 0;
		for (; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 6)
				us = us * 10 + (*p - '0');
		if (n < 1 || n > 9)
			return -EINVAL;
		for (; n < 6; n++)
			us *= 10;
	}
	int64_t offset_s = 0;
	if (!literal(&p, "Zz")) {
		int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0, oh, om;
		if (!sign)
			return -EINVAL;
		p++;
		if (!digits(&p, 2, &oh) || !literal(&p, ":") || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		offset_s = sign * (oh * 3600 + om * 60);
	}
	if (*p)
		return -EINVAL;
	secs -= offset_s;
	*unix_us = secs * 1000000 + us;
	return 0;
}

/* ---- The election record ---- */

void leader_record_clear(struct leader_record *r)
{
	free(r->holder);
	free(r->acquire_time);
	free(r->renew_time);
	memset(r, 0, sizeof(*r));
}

/* spec.<key> as a string copy in *out: NULL when absent or null. */
static int spec_string(struct json_object *spec, const char *key, char **out, struct cx_err *err)
{
	struct json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(spec, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return cx_err_set(err, -EBADMSG, "Lease spec.%s is a %s, not a string", key,
				  json_type_to_name(json_object_get_type(v)));
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : cx_err_set(err, -ENOMEM, "out of memory");
}

/* spec.<key> as an int32 (the API's type) in *out: 0 when absent or null. */
static int spec_int(struct json_object *spec, const char *key, long *out, struct cx_err *err)
{
	struct json_object *v = NULL;
	*out = 0;
	if (!json_object_object_get_ex(spec, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return cx_err_set(err, -EBADMSG, "Lease spec.%s is a %s, not an integer", key,
				  json_type_to_name(json_object_get_type(v)));
	int64_t n = json_object_get_int64(v);
	if (n < INT32_MIN || n > INT32_MAX)
		return cx_err_set(err, -EBADMSG, "Lease spec.%s is out of range: %" PRId64, key, n);
	*out = (long)n;
	return 0;
}

int leader_record_from_lease(struct json_object *lease, struct leader_record *r, struct cx_err *err)
{
	memset(r, 0, sizeof(*r));
	struct json_object *spec = NULL;
	if (!json_object_object_get_ex(lease, "spec", &spec) || json_object_is_type(spec, json_type_null))
		return 0;
	if (!json_object_is_type(spec, json_type_object))
		return cx_err_set(err, -EBADMSG, "Lease spec is a %s, not an object",
				  json_type_to_name(json_object_get_type(spec)));
	int rc = spec_string(spec, "holderIdentity", &r->holder, err);
	if (!rc)
		rc = spec_int(spec, "leaseDurationSeconds", &r->lease_duration_s, err);
	if (!rc)
		rc = spec_string(spec, "acquireTime", &r->acquire_time, err);
	if (!rc)
		rc = spec_string(spec, "renewTime", &r->renew_time, err);
	if (!rc)
		rc = spec_int(spec, "leaseTransitions", &r->transitions, err);
	if (rc)
		leader_record_clear(r);
	return rc;
}

/* Adds v under key, taking v; false (v freed) when v is NULL or adding fails. */
static bool add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

struct json_object *leader_record_to_spec(const struct leader_record *r)
{
	struct json_object *spec = json_object_new_object();
	if (!spec)
		return NULL;
	bool ok = add(spec, "holderIdentity", json_object_new_string(r->holder ? r->holder : ""));
	if (ok && r->lease_duration_s > 0)
		ok = add(spec, "leaseDurationSeconds", json_object_new_int64(r->lease_duration_s));
	if (ok && r->acquire_time)
		ok = add(spec, "acquireTime", json_object_new_string(r->acquire_time));
	if (ok && r->renew_time)
		ok = add(spec, "renewTime", json_object_new_string(r->renew_time));
	if (ok)
		ok = add(spec, "leaseTransitions", json_object_new_int64(r->transitions));
	if (!ok) {
		json_object_put(spec);
		return NULL;
	}
	return spec;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool holder_eq(const char *a, const char *b)
{
	return str_eq(a ? a : "", b ? b : "");
}

bool leader_record_equal(const struct leader_record *a, const struct leader_record *b)
{
	return holder_eq(a->holder, b->holder) && a->lease_duration_s == b->lease_duration_s &&
		str_eq(a->acquire_time, b->acquire_time) && str_eq(a->renew_time, b->renew_time) &&
		a->transitions == b->transitions;
}

bool leader_may_acquire(const struct leader_record *r, const char *identity, int64_t observed_ms, long default_lease_ms,
			int64_t now_ms)
{
	if (!r->holder || !*r->holder)
		return true;
	if (identity && strcmp(r->holder, identity) == 0)
		return true;
	int64_t lease_ms = r->lease_duration_s > 0 ? (int64_t)r->lease_duration_s * 1000 : default_lease_ms;
	return now_ms - observed_ms >= lease_ms;
}

/* ---- Identity ---- */

int leader_default_identity(char *buf, size_t n, struct cx_err *err)
{
	const char *pod = getenv("POD_NAME");
	int k;
	if (pod && *pod) {
		k = snprintf(buf, n, "%s", pod);
	} else {
		char host[256];
		if (gethostname(host, sizeof(host)) != 0)
			return cx_err_set(err, -errno, "leader election identity: gethostname: %s", strerror(errno));
		host[sizeof(host) - 1] = '\0';
		k = snprintf(buf, n, "%s_%ld", host, (long)getpid());
	}
	if (k < 0 || (size_t)k >= n)
		return cx_err_set(err, -ENAMETOOLONG, "leader election identity is longer than %zu bytes", n - 1);
	return 0;
}

/* ---- The elector ---- */

/* A Lease name or namespace: a DNS subdomain, which is also safe in a path. */
static bool dns_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	return true;
}

static char *printf_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_alloc(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int leader_new(const struct restconfig *rc, const struct leader_config *cfg, struct leader **out, struct cx_err *err)
{
	*out = NULL;
	if (!dns_name(cfg->namespace))
		return cx_err_set(err, -EINVAL, "leader election: the Lease namespace \"%s\" is not a DNS name",
				  cfg->namespace ? cfg->namespace : "");
	if (!dns_name(cfg->name))
		return cx_err_set(err, -EINVAL, "leader election: the Lease name \"%s\" is not a DNS name",
				  cfg->name ? cfg->name : "");
	long lease_ms = cfg->lease_duration_ms > 0 ? cfg->lease_duration_ms : LEADER_LEASE_DURATION_MS;
	long renew_ms = cfg->renew_deadline_ms > 0 ? cfg->renew_deadline_ms : LEADER_RENEW_DEADLINE_MS;
	long retry_ms = cfg->retry_period_ms > 0 ? cfg->retry_period_ms : LEADER_RETRY_PERIOD_MS;
	/* Followers wait the Lease's leaseDurationSeconds: a truncated 1.5 s would
	 * let them take over before our renew deadline made us stop. */
	if (lease_ms % 1000)
		return cx_err_set(err, -EINVAL,
				  "leader election: lease duration %ld ms is not a whole number of "
				  "seconds (the Lease holds seconds)",
				  lease_ms);
	if (lease_ms <= renew_ms)
		return cx_err_set(err, -EINVAL,
				  "leader election: lease duration (%ld ms) must be greater than the "
				  "renew deadline (%ld ms)",
				  lease_ms, renew_ms);
	if ((double)renew_ms <= JITTER_FACTOR * (double)retry_ms)
		return cx_err_set(err, -EINVAL,
				  "leader election: renew deadline (%ld ms) must be greater than %.1f x "
				  "the retry period (%ld ms)",
				  renew_ms, JITTER_FACTOR, retry_ms);

	char idbuf[512];
	const char *identity = cfg->identity;
	if (!identity || !*identity) {
		int r = leader_default_identity(idbuf, sizeof(idbuf), err);
		if (r)
			return r;
		identity = idbuf;
	}

	struct leader *le = calloc(1, sizeof(*le));
	if (!le)
		return cx_err_set(err, -ENOMEM, "out of memory");
	le->lease_ms = lease_ms;
	le->renew_deadline_ms = renew_ms;
	le->retry_ms = retry_ms;
	le->cb = cfg->callbacks;
	le->identity = strdup(identity);
	le->ns = strdup(cfg->namespace);
	le->name = strdup(cfg->name);
	le->desc = printf_alloc("%s/%s", cfg->namespace, cfg->name);
	le->collection = printf_alloc(LEASES_API "/%s/leases", cfg->namespace);
	le->path = printf_alloc(LEASES_API "/%s/leases/%s", cfg->namespace, cfg->name);
	if (!le->identity || !le->ns || !le->name || !le->desc || !le->collection || !le->path) {
		leader_free(&le);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	long timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : LEADER_REQUEST_TIMEOUT_MS;
	le->request_timeout_ms = timeout_ms;
	struct kclient_options o = {
		.connect_timeout_ms = timeout_ms,
		.timeout_ms = timeout_ms,
		/* At most two requests a tick: the limiter must never make us sleep. */
		.qps = 100,
		.burst = 100,
		.max_attempts = 1, /* the next tick is the retry */
	};
	int r = kclient_new(rc, &o, &le->client, err);
	if (r) {
		cx_err_prefix(err, "leader election: ");
		leader_free(&le);
		return r;
	}
	if (cfg->on_request)
		kclient_set_request_observer(le->client, cfg->on_request, cfg->request_ud);
	*out = le;
	return 0;
}

void leader_free(struct leader **lep)
{
	struct leader *le = lep ? *lep : NULL;
	if (!le)
		return;
	kclient_free(&le->client);
	leader_record_clear(&le->observed);
	json_object_put(le->lease);
	free(le->reported);
	free(le->identity);
	free(le->ns);
	free(le->name);
	free(le->desc);
	free(le->collection);
	free(le->path);
	free(le);
	*lep = NULL;
}

int64_t leader_next_ms(const struct leader *le)
{
	return le->released ? INT64_MAX : le->next_ms;
}

bool leader_is_leader(const struct leader *le)
{
	return le->leading;
}

const char *leader_holder(const struct leader *le)
{
	return le->observed.holder ? le->observed.holder : "";
}

const char *leader_identity(const struct leader *le)
{
	return le->identity;
}

const struct cx_err *leader_last_error(const struct leader *le)
{
	return &le->last_err;
}

long leader_request_timeout_ms(const struct leader *le)
{
	return le->request_timeout_ms;
}

bool leader_same_error(const char *a, const char *b)
{
	for (;;) {
		bool da = *a >= '0' && *a <= '9', db = *b >= '0' && *b <= '9';
		if (da != db)
			return false;
		if (da) {
			while (*a >= '0' && *a <= '9')
				a++;
			while (*b >= '0' && *b <= '9')
				b++;
			continue;
		}
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++, b++;
	}
}

static bool observed_holder_is_us(const struct leader *le)
{
	return le->have_observed && le->observed.holder && strcmp(le->observed.holder, le->identity) == 0;
}

static void drop_lease(struct leader *le)
{
	json_object_put(le->lease);
	le->lease = NULL;
}

/* Makes r the observed record (taking its strings) and, when it differs from
 * the one before, notes now as when it changed. */
static void observe(struct leader *le, struct leader_record *r, int64_t now_ms)
{
	if (le->have_observed && leader_record_equal(&le->observed, r)) {
		leader_record_clear(r);
		return;
	}
	leader_record_clear(&le->observed);
	le->observed = *r;
	memset(r, 0, sizeof(*r));
	le->have_observed = true;
	le->observed_ms = now_ms;
}

/* Records the failure of one request of a step. Conflicts are part of the
 * protocol and logged at -v=2; any other error is logged once per distinct
 * message (leader_same_error: libcurl's "after 0 ms" and "after 1 ms" are one
 * message), with the server's reason in full. Returns e->code. */
static int failed(struct leader *le, const char *step, const struct cx_err *e)
{
	le->last_err = *e;
	if (e->code == -EAGAIN || e->code == -EEXIST) {
		log_kv(LOG_LEVEL_INFO, 2, "leader election: the Lease changed under us; re-reading it next tick",
		       "lease", le->desc, "identity", le->identity, "step", step, "error", e->msg, NULL);
		return e->code;
	}
	if (le->logged[0] && leader_same_error(le->logged, e->msg)) {
		log_kv(LOG_LEVEL_INFO, 4, "leader election: request failed again", "lease", le->desc, "step", step,
		       "error", e->msg, NULL);
		return e->code;
	}
	snprintf(le->logged, sizeof(le->logged), "%s", e->msg);
	char status[16];
	snprintf(status, sizeof(status), "%d", e->http_status);
	const char *hint = NULL;
	char hintbuf[NAME_MAX_LEN + 128];
	if (e->code == -EACCES) {
		snprintf(hintbuf, sizeof(hintbuf),
			 "the identity needs get, create and update on "
			 "leases.coordination.k8s.io in namespace %s",
			 le->ns);
		hint = hintbuf;
	}
	log_kv(LOG_LEVEL_ERROR, 0, "leader election: request failed; retrying every retry period", "lease", le->desc,
	       "identity", le->identity, "step", step, "http_status", status, "reason", e->reason, "error", e->msg,
	       hint ? "hint" : NULL, hint, NULL);
	return e->code;
}

static void succeeded(struct leader *le)
{
	if (le->logged[0]) {
		log_kv(LOG_LEVEL_INFO, 0, "leader election: requests succeed again", "lease", le->desc, NULL);
		le->logged[0] = '\0';
	}
}

/* The record we write to hold the Lease at wall time now_us, following the
 * observed one: a renewal keeps acquireTime and leaseTransitions, a takeover
 * counts one more transition. */
static int our_record(struct leader *le, struct leader_record *r, struct cx_err *e)
{
	char now[LEADER_MICROTIME_LEN];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (leader_microtime_format((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, now))
		return cx_err_set(e, -ERANGE, "the wall clock is out of range");
	memset(r, 0, sizeof(*r));
	bool renewal = observed_holder_is_us(le);
	r->holder = strdup(le->identity);
	r->lease_duration_s = le->lease_ms / 1000;
	r->acquire_time = strdup(renewal && le->observed.acquire_time ? le->observed.acquire_time : now);
	r->renew_time = strdup(now);
	r->transitions = !le->have_observed ? 0 : renewal ? le->observed.transitions : le->observed.transitions + 1;
	if (!r->holder || !r->acquire_time || !r->renew_time) {
		leader_record_clear(r);
		return cx_err_set(e, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Once a write of ours succeeded: out (taken) becomes our cached Lease and
 * its record (or, should it not parse, the one we wrote) the observed one. */
static void wrote(struct leader *le, struct json_object *out, struct leader_record *written, int64_t now_ms)
{
	struct leader_record r;
	if (leader_record_from_lease(out, &r, NULL) == 0 && r.holder) {
		observe(le, &r, now_ms);
		leader_record_clear(written);
	} else {
		leader_record_clear(&r);
		observe(le, written, now_ms);
	}
	drop_lease(le);
	le->lease = out;
}

/* PUTs base (taken; it carries the resourceVersion the write is conditional
 * on) with our record as its spec. */
static int put_ours(struct leader *le, struct json_object *base, int64_t now_ms, struct cx_err *e)
{
	struct leader_record r;
	int rc = our_record(le, &r, e);
	struct json_object *spec = rc ? NULL : leader_record_to_spec(&r);
	if (!rc && (!spec || json_object_object_add(base, "spec", spec) != 0)) {
		json_object_put(spec);
		rc = cx_err_set(e, -ENOMEM, "out of memory");
	}
	struct json_object *out = NULL;
	if (!rc)
		rc = kclient_update(le->client, le->path, base, &out, e);
	json_object_put(base);
	if (rc) {
		leader_record_clear(&r);
		return rc;
	}
	wrote(le, out, &r, now_ms);
	return 0;
}

static int create_ours(struct leader *le, int64_t now_ms, struct cx_err *e)
{
	struct leader_record r;
	int rc = our_record(le, &r, e);
	if (rc)
		return rc;
	r.transitions = 0;
	struct json_object *lease = json_object_new_object(), *meta = json_object_new_object();
	bool ok = lease && meta && add(meta, "name", json_object_new_string(le->name)) &&
		add(meta, "namespace", json_object_new_string(le->ns));
	if (ok)
		ok = add(lease, "metadata", meta); /* taken, or freed on failure */
	else
		json_object_put(meta);
	ok = ok && add(lease, "apiVersion", json_object_new_string("coordination.k8s.io/v1")) &&
		add(lease, "kind", json_object_new_string("Lease")) && add(lease, "spec", leader_record_to_spec(&r));
	struct json_object *out = NULL;
	rc = ok ? kclient_create(le->client, le->collection, lease, &out, e) : cx_err_set(e, -ENOMEM, "out of memory");
	json_object_put(lease);
	if (rc) {
		leader_record_clear(&r);
		return rc;
	}
	wrote(le, out, &r, now_ms);
	return 0;
}

/* client-go's tryAcquireOrRenew. *ok tells whether we hold the Lease after
 * it; returns 0 or the code of the request that failed (in le->last_err). */
static int try_acquire_or_renew(struct leader *le, int64_t now_ms, bool *ok)
{
	struct cx_err e = { 0 };
	*ok = false;
	int rc;
	if (le->leading && le->lease) {
		/* Renew over our own last write: conditional on its resourceVersion. */
		struct json_object *base = le->lease;
		le->lease = NULL;
		rc = put_ours(le, base, now_ms, &e);
		if (rc)
			return failed(le, "renew", &e);
		*ok = true;
		return 0;
	}
	drop_lease(le);
	struct json_object *got = NULL;
	rc = kclient_get(le->client, le->path, &got, &e);
	if (rc == -ENOENT) {
		rc = create_ours(le, now_ms, &e);
		if (rc)
			return failed(le, "create", &e);
		*ok = true;
		return 0;
	}
	if (rc)
		return failed(le, "get", &e);
	struct leader_record r;
	rc = leader_record_from_lease(got, &r, &e);
	if (rc) {
		json_object_put(got);
		return failed(le, "get", &e);
	}
	observe(le, &r, now_ms);
	if (!leader_may_acquire(&le->observed, le->identity, le->observed_ms, le->lease_ms, now_ms)) {
		json_object_put(got);
		log_kv(LOG_LEVEL_INFO, 4, "leader election: the Lease is held and has not expired", "lease", le->desc,
		       "holder", le->observed.holder, NULL);
		return 0;
	}
	rc = put_ours(le, got, now_ms, &e);
	if (rc)
		return failed(le, observed_holder_is_us(le) ? "renew" : "acquire", &e);
	*ok = true;
	return 0;
}

/* client-go's maybeReportTransition, but an empty holder is not reported. */
static void report_transition(struct leader *le)
{
	const char *h = le->observed.holder && *le->observed.holder ? le->observed.holder : NULL;
	if (str_eq(h, le->reported))
		return;
	free(le->reported);
	le->reported = h ? strdup(h) : NULL;
	if (h) {
		log_kv(LOG_LEVEL_INFO, 2, "leader election: new leader observed", "lease", le->desc, "holder", h, NULL);
		if (le->cb.on_new_leader)
			le->cb.on_new_leader(le->cb.ud, h);
	}
}

static void stop_leading(struct leader *le, const char *why)
{
	le->leading = false;
	drop_lease(le);
	log_kv(LOG_LEVEL_WARNING, 0, "leader election: stopped leading", "lease", le->desc, "identity", le->identity,
	       "reason", why, NULL);
	if (le->cb.on_stopped_leading)
		le->cb.on_stopped_leading(le->cb.ud);
}

int leader_tick(struct leader *le, int64_t now_ms)
{
	if (le->released || now_ms < le->next_ms)
		return 0;
	le->next_ms = now_ms + le->retry_ms;
	cx_err_clear(&le->last_err);
	bool ok;
	int rc = try_acquire_or_renew(le, now_ms, &ok);
	if (!rc)
		succeeded(le);
	bool start = false;
	if (ok) {
		le->renewed_ms = now_ms;
		start = !le->leading;
	} else if (le->leading) {
		if (le->have_observed && !observed_holder_is_us(le))
			stop_leading(le, "another candidate holds the Lease");
		else if (now_ms - le->renewed_ms >= le->renew_deadline_ms)
			stop_leading(le, "could not renew the Lease within the renew deadline");
	}
	report_transition(le);
	if (start) {
		le->leading = true;
		log_kv(LOG_LEVEL_INFO, 0, "leader election: started leading", "lease", le->desc, "identity",
		       le->identity, NULL);
		if (le->cb.on_started_leading)
			le->cb.on_started_leading(le->cb.ud);
	}
	return rc;
}

/* PUTs the released record over the Lease while we are its observed holder;
 * a conflict is re-read and tried once more. */
static int release_lease(struct leader *le, bool *done, struct cx_err *err)
{
	int rc = 0;
	*done = false;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct json_object *base = le->lease, *out = NULL;
		le->lease = NULL;
		if (!base) {
			struct leader_record r;
			rc = kclient_get(le->client, le->path, &base, err);
			if (rc == -ENOENT)
				return 0; /* deleted: nothing to release */
			if (!rc)
				rc = leader_record_from_lease(base, &r, err);
			if (rc) {
				json_object_put(base);
				return rc;
			}
			bool ours = r.holder && strcmp(r.holder, le->identity) == 0;
			leader_record_clear(&le->observed);
			le->observed = r;
			le->have_observed = true;
			if (!ours) {
				json_object_put(base);
				return 0; /* nothing of ours to release */
			}
		}
		char now[LEADER_MICROTIME_LEN];
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		leader_microtime_format((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, now);
		struct leader_record r = {
			.holder = NULL,
			.lease_duration_s = 1,
			.acquire_time = now,
			.renew_time = now,
			.transitions = le->observed.transitions,
		};
		struct json_object *spec = leader_record_to_spec(&r);
		if (!spec || json_object_object_add(base, "spec", spec) != 0) {
			json_object_put(spec);
			json_object_put(base);
			return cx_err_set(err, -ENOMEM, "out of memory");
		}
		rc = kclient_update(le->client, le->path, base, &out, err);
		json_object_put(base);
		if (!rc) {
			struct leader_record seen;
			if (leader_record_from_lease(out, &seen, NULL) == 0) {
				leader_record_clear(&le->observed);
				le->observed = seen;
			}
			json_object_put(out);
			*done = true;
			return 0;
		}
		if (rc != -EAGAIN)
			break;
	}
	return rc;
}

int leader_release(struct leader *le, struct cx_err *err)
{
	if (le->released)
		return 0;
	le->released = true;
	struct cx_err e = { 0 };
	bool held = false;
	int rc = observed_holder_is_us(le) ? release_lease(le, &held, &e) : 0;
	drop_lease(le);
	if (rc) {
		le->last_err = e;
		if (err)
			*err = e;
		log_kv(LOG_LEVEL_ERROR, 0,
		       "leader election: could not release the Lease; the others take it over when "
		       "it expires",
		       "lease", le->desc, "identity", le->identity, "error", e.msg, NULL);
	} else if (held) {
		log_kv(LOG_LEVEL_INFO, 0, "leader election: released the Lease", "lease", le->desc, "identity",
		       le->identity, NULL);
	}
	if (le->leading) {
		le->leading = false;
		if (le->cb.on_stopped_leading)
			le->cb.on_stopped_leading(le->cb.ud);
	}
	return rc;
}
