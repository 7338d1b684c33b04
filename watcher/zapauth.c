#include "config.h"

#include "zapauth.h"
#include "curvekey.h"
#include "err.h"
#include "log.h"
#include "strmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP_ENDPOINT      "inproc://zeromq.zap.01"
#define DEFAULT_RELOAD_MS 2000
/* Request frames: version, request id, domain, address, identity,
 * mechanism, then the mechanism's credentials (CURVE: one, the key). */
#define ZAP_FRAMES_MAX 8
#define LOGGED_MAX     1024

struct zapauth {
	void *sock;
	char *path;
	struct curvekey_set *keys;
	int reload_ms;
	int64_t loaded_ms;
	uint64_t refusals;
	/* The set of public keys (Z85) refused and logged already; emptied
	 * when full. */
	struct strmap *logged;
	char reload_error[CX_ERR_MSG_MAX]; /* the last reload failure logged, "" for none */
};

int zapauth_new(void *ctx, const char *authorized_path, int reload_ms, struct zapauth **out, struct cx_err *err)
{
	*out = NULL;
	struct zapauth *z = calloc(1, sizeof(*z));
	if (!z || !(z->path = strdup(authorized_path)) || !(z->logged = strmap_new(NULL))) {
		zapauth_free(&z);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	z->reload_ms = reload_ms > 0 ? reload_ms : DEFAULT_RELOAD_MS;
	int r = curvekey_set_load(authorized_path, &z->keys, err);
	if (r) {
		cx_err_prefix(err, "the job channel's authorized keys: ");
		zapauth_free(&z);
		return r;
	}
	int zero = 0;
	if (!(z->sock = zmq_socket(ctx, ZMQ_REP)) || zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
	    zmq_bind(z->sock, ZAP_ENDPOINT)) {
		r = cx_err_set(err, errno ? -errno : -ENOMEM, "cannot bind the ZAP handler %s: %s", ZAP_ENDPOINT,
			       zmq_strerror(errno));
		zapauth_free(&z);
		return r;
	}
	*out = z;
	return 0;
}

void zapauth_free(struct zapauth **zp)
{
	struct zapauth *z = zp ? *zp : NULL;
	if (!z)
		return;
	if (z->sock)
		zmq_close(z->sock);
	curvekey_set_free(&z->keys);
	strmap_free(&z->logged);
	free(z->path);
	free(z);
	*zp = NULL;
}

void *zapauth_socket(struct zapauth *z)
{
	return z->sock;
}

uint64_t zapauth_refusals(const struct zapauth *z)
{
	return z ? z->refusals : 0;
}

/* The list as it is now on disk, at most every reload_ms; the last good
 * one when it cannot be read. */
static void maybe_reload(struct zapauth *z, int64_t now_ms)
{
	if (z->loaded_ms && now_ms - z->loaded_ms < z->reload_ms)
		return;
	z->loaded_ms = now_ms;
	struct curvekey_set *fresh = NULL;
	struct cx_err err = { 0 };
	if (curvekey_set_load(z->path, &fresh, &err)) {
		if (strcmp(err.msg, z->reload_error)) {
			log_kv(LOG_LEVEL_ERROR, 0,
			       "cannot read the job channel's authorized keys again; the last ones read "
			       "stay in force",
			       "error", err.msg, NULL);
			snprintf(z->reload_error, sizeof(z->reload_error), "%s", err.msg);
		}
		return;
	}
	z->reload_error[0] = '\0';
	curvekey_set_free(&z->keys);
	z->keys = fresh;
}

static void send_str(void *sock, const char *s, int more)
{
	zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0);
}

/* Logs a refused key once (per LOGGED_MAX distinct keys). */
static void log_refusal(struct zapauth *z, const char *why, const char *key_z85, const char *address)
{
	if (strmap_has(z->logged, key_z85))
		return;
	if (strmap_count(z->logged) >= LOGGED_MAX)
		strmap_clear(z->logged);
	strmap_put(z->logged, key_z85, NULL);
	log_kv(LOG_LEVEL_ERROR, 0, why, "client_key", key_z85, "address", address, "authorized_keys", z->path, NULL);
}

/* One request: its frames in f[0..n). */
static void answer(struct zapauth *z, zmq_msg_t *f, int n, int64_t now_ms)
{
	char address[128] = "", mechanism[16] = "", key_z85[CURVEKEY_Z85_LEN + 1] = "";
	const char *status = "400", *text = "not authorized", *user = "";
	if (n >= 6) {
		snprintf(address, sizeof(address), "%.*s", (int)zmq_msg_size(&f[3]), (const char *)zmq_msg_data(&f[3]));
		snprintf(mechanism, sizeof(mechanism), "%.*s", (int)zmq_msg_size(&f[5]),
			 (const char *)zmq_msg_data(&f[5]));
	}
	if (n < 6 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3)) {
		status = "500", text = "malformed ZAP request";
	} else if (strcmp(mechanism, "CURVE") || n != 7 || zmq_msg_size(&f[6]) != 32) {
		/* The ROUTER is a CURVE server: anything else is not ours. */
		text = "CURVE required";
	} else {
		zmq_z85_encode(key_z85, zmq_msg_data(&f[6]), 32);
		maybe_reload(z, now_ms);
		const char *name = curvekey_set_find(z->keys, zmq_msg_data(&f[6]));
		if (name)
			status = "200", text = "OK", user = name;
	}
	if (strcmp(status, "200")) {
		z->refusals++;
		log_refusal(z, "job channel: a connection was refused: its CURVE key is not among the authorized keys",
			    key_z85[0] ? key_z85 : mechanism, address);
	} else {
		log_kv(LOG_LEVEL_INFO, 1, "job channel: a worker connected", "key_name", user, "address", address,
		       NULL);
	}
	send_str(z->sock, "1.0", 1);
	zmq_send(z->sock, n >= 2 ? zmq_msg_data(&f[1]) : "", n >= 2 ? zmq_msg_size(&f[1]) : 0, ZMQ_SNDMORE);
	send_str(z->sock, status, 1);
	send_str(z->sock, text, 1);
	send_str(z->sock, user, 1);
	send_str(z->sock, "", 0);
}

void zapauth_dispatch(struct zapauth *z, int64_t now_ms)
{
	for (;;) {
		zmq_msg_t f[ZAP_FRAMES_MAX];
		int n = 0;
		bool more = true;
		while (more) {
			zmq_msg_t *m = &f[n < ZAP_FRAMES_MAX ? n : ZAP_FRAMES_MAX - 1];
			if (n >= ZAP_FRAMES_MAX) /* an extra frame: read it over the last one */
				zmq_msg_close(m);
			zmq_msg_init(m);
			if (zmq_msg_recv(m, z->sock, n ? 0 : ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(m);
				for (int i = 0; i < n && i < ZAP_FRAMES_MAX; i++)
					zmq_msg_close(&f[i]);
				return;
			}
			more = zmq_msg_more(m);
			n++;
		}
		int kept = n < ZAP_FRAMES_MAX ? n : ZAP_FRAMES_MAX;
		answer(z, f, n > ZAP_FRAMES_MAX ? 0 : n, now_ms);
		for (int i = 0; i < kept; i++)
			zmq_msg_close(&f[i]);
	}
}
