#include "config.h"

#include "kwatch.h"
#include "clock.h"
#include "err.h"
#include "kclient.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_INACTIVITY_S 70
/* A failed watch answers with a Status; more than this is not one. */
#define ERROR_BODY_MAX 65536

struct sock {
	curl_socket_t fd;
	int what; /* CURL_POLL_IN / _OUT / _INOUT */
};

struct kwatch_mux {
	CURLM *multi;
	struct sock *socks;
	size_t n_socks, cap_socks;
	bool timer_set;
	int64_t deadline_ms; /* when libcurl wants its timeout action (clock_monotonic_ms) */
	size_t running;
};

struct kwatch {
	struct kwatch_mux *m;   /* borrowed */
	struct kclient *client; /* borrowed: its request observer counts the watch */
	bool counted;           /* told the observer already */
	CURL *easy;
	char *path; /* for messages */
	char *start_rv;
	struct watch_parser *parser;
	kwatch_end_fn on_end;
	void *ud;
	bool running;
	long status;      /* HTTP status, once the first byte came */
	char *error_body; /* a non-200 answer */
	size_t error_len;
	int code; /* the first failure seen while receiving */
	struct cx_err err;
	char errbuf[CURL_ERROR_SIZE];
};

static long ms_until(int64_t deadline_ms)
{
	int64_t ms = deadline_ms - clock_monotonic_ms();
	return ms < 0 ? 0 : (long)ms;
}

/* libcurl tells which sockets to wait on, and for what. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	(void)socketp;
	struct kwatch_mux *m = userp;
	size_t i = 0;
	while (i < m->n_socks && m->socks[i].fd != fd)
		i++;
	if (what == CURL_POLL_REMOVE) {
		if (i < m->n_socks)
			m->socks[i] = m->socks[--m->n_socks];
		return 0;
	}
	if (i == m->n_socks) {
		if (m->n_socks == m->cap_socks) {
			size_t cap = m->cap_socks ? m->cap_socks * 2 : 8;
			struct sock *grown = realloc(m->socks, cap * sizeof(*grown));
			if (!grown)
				return -1;
			m->socks = grown;
			m->cap_socks = cap;
		}
		m->socks[m->n_socks++].fd = fd;
	}
	m->socks[i].what = what;
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct kwatch_mux *m = userp;
	m->timer_set = timeout_ms >= 0;
	if (m->timer_set)
		m->deadline_ms = clock_monotonic_ms() + timeout_ms;
	return 0;
}

int kwatch_mux_new(struct kwatch_mux **out, struct cx_err *err)
{
	*out = NULL;
	struct kwatch_mux *m = calloc(1, sizeof(*m));
	if (!m || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(m);
		return cx_err_set(err, -ENOMEM, "cannot initialise libcurl");
	}
	if (!(m->multi = curl_multi_init())) {
		curl_global_cleanup();
		free(m);
		return cx_err_set(err, -ENOMEM, "cannot initialise a libcurl multi handle");
	}
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	*out = m;
	return 0;
}

void kwatch_mux_free(struct kwatch_mux **mp)
{
	struct kwatch_mux *m = *mp;
	if (!m)
		return;
	curl_multi_cleanup(m->multi);
	curl_global_cleanup();
	free(m->socks);
	free(m);
	*mp = NULL;
}

size_t kwatch_mux_pollfds(struct kwatch_mux *m, struct pollfd *fds, size_t cap, long *timeout_ms)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_socks && n < cap; i++, n++) {
		fds[n].fd = m->socks[i].fd;
		fds[n].events = (short)(((m->socks[i].what & CURL_POLL_IN) ? POLLIN : 0) |
					((m->socks[i].what & CURL_POLL_OUT) ? POLLOUT : 0));
		fds[n].revents = 0;
	}
	*timeout_ms = m->timer_set ? ms_until(m->deadline_ms) : -1;
	return n;
}

size_t kwatch_mux_running(const struct kwatch_mux *m)
{
	return m->running;
}

/* Removes w from its mux, so that it can be freed or ended. */
static void detach(struct kwatch *w)
{
	if (!w->running)
		return;
	curl_multi_remove_handle(w->m->multi, w->easy);
	w->running = false;
	w->m->running--;
}

/* Why the watch ended, as one code with w->err filled. */
static int end_code(struct kwatch *w, CURLcode result)
{
	if (w->code)
		return w->code;
	if (w->status && w->status != 200)
		return kclient_status_error("WATCH", w->path, w->status, w->error_body, w->error_len, &w->err);
	if (result == CURLE_OPERATION_TIMEDOUT)
		return cx_err_set(&w->err, -ETIMEDOUT, "WATCH %s: the stream went silent (no bytes, no bookmark): %s",
				  w->path, w->errbuf[0] ? w->errbuf : curl_easy_strerror(result));
	if (result == CURLE_COULDNT_CONNECT)
		return cx_err_set(&w->err, -ECONNREFUSED, "WATCH %s: cannot connect: %s", w->path,
				  w->errbuf[0] ? w->errbuf : curl_easy_strerror(result));
	if (result != CURLE_OK)
		return cx_err_set(&w->err, -EIO, "WATCH %s: %s", w->path,
				  w->errbuf[0] ? w->errbuf : curl_easy_strerror(result));
	return watch_parser_finish(w->parser, &w->err);
}

/* Counts the watch request once in its client's request observer, as
 * client-go counts a watch: method GET (a watch is a GET with ?watch=1),
 * the status of the response, or 0 ("<error>") when none came. */
static void count_request(struct kwatch *w, long status)
{
	if (w->counted)
		return;
	w->counted = true;
	kclient_observe(w->client, status >= 200 ? (int)status : 0, "GET");
}

/* Each header line of the response; an empty one ends the headers, when
 * the watch has its answer (client-go counts it then, not when it ends
 * minutes later). A 1xx answer's headers are followed by the real ones. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct kwatch *w = userdata;
	size_t n = size * nitems;
	if (!w->counted && (n == 0 || buf[0] == '\r' || buf[0] == '\n')) {
		long status = 0;
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200)
			count_request(w, status);
	}
	return n;
}

static void finish_done(struct kwatch_mux *m)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		char *priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		struct kwatch *w = (struct kwatch *)priv;
		CURLcode result = msg->data.result;
		detach(w);
		long status = 0;
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
		count_request(w, status); /* when its headers never came */
		int code = end_code(w, result);
		log_kv(code ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, 4, "watch ended", "path", w->path, "error",
		       code ? w->err.msg : "", NULL);
		w->on_end(w->ud, w, code, &w->err); /* may free w */
	}
}

int kwatch_mux_dispatch(struct kwatch_mux *m, const struct pollfd *fds, size_t n)
{
	int running = 0;
	CURLMcode mc = CURLM_OK;
	for (size_t i = 0; i < n && mc == CURLM_OK; i++) {
		if (!fds[i].revents)
			continue;
		int ev = ((fds[i].revents & POLLIN) ? CURL_CSELECT_IN : 0) |
			((fds[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
			((fds[i].revents & (POLLERR | POLLHUP)) ? CURL_CSELECT_ERR : 0);
		mc = curl_multi_socket_action(m->multi, fds[i].fd, ev, &running);
	}
	if (mc == CURLM_OK && m->timer_set && ms_until(m->deadline_ms) == 0) {
		m->timer_set = false;
		mc = curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	finish_done(m);
	if (mc != CURLM_OK) {
		log_kv(LOG_LEVEL_ERROR, 0, "libcurl multi handle failed", "error", curl_multi_strerror(mc), NULL);
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	return 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct kwatch *w = userdata;
	size_t n = size * nmemb;
	if (!w->status)
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->status);
	if (w->status != 200) {
		size_t room = ERROR_BODY_MAX - w->error_len;
		size_t take = n < room ? n : room;
		char *grown = take ? realloc(w->error_body, w->error_len + take + 1) : w->error_body;
		if (take && grown) {
			memcpy(grown + w->error_len, data, take);
			w->error_len += take;
			grown[w->error_len] = '\0';
			w->error_body = grown;
		}
		return n;
	}
	int r = watch_parser_feed(w->parser, data, n, &w->err);
	if (r) {
		w->code = r;
		return 0; /* ends the transfer: the stream is not to be trusted past this */
	}
	return n;
}

/* Appends "&key=<escaped value>" to the URL being built. */
static int add_param(CURL *easy, char **url, const char *key, const char *value)
{
	char *escaped = curl_easy_escape(easy, value, 0);
	char *longer = NULL;
	int r = escaped && asprintf(&longer, "%s&%s=%s", *url, key, escaped) >= 0 ? 0 : -ENOMEM;
	curl_free(escaped);
	if (!r) {
		free(*url);
		*url = longer;
	}
	return r;
}

/* client-go draws a watch's timeoutSeconds from [min, 2 min) so that the
 * watches of many clients do not all end at once. */
static long random_timeout_s(void)
{
	static unsigned seed;
	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	return 300 + rand_r(&seed) % 300;
}

int kwatch_start(struct kwatch_mux *m, struct kclient *c, const struct kwatch_options *o, kwatch_event_fn on_event,
		 kwatch_end_fn on_end, void *ud, struct kwatch **out, struct cx_err *err)
{
	*out = NULL;
	struct kwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return cx_err_set(err, -ENOMEM, "out of memory");
	int r;
	w->m = m;
	w->client = c;
	w->on_end = on_end;
	w->ud = ud;
	struct watch_parser_options po = { .drop_managed_fields = o->drop_managed_fields };
	char *url = NULL;
	if (!(w->path = strdup(o->path)) || (o->resource_version && !(w->start_rv = strdup(o->resource_version))) ||
	    !(w->parser = watch_parser_new(&po, on_event, ud))) {
		r = cx_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = kclient_stream_handle(c, &w->easy, err))) {
		/* Its credentials could not be had (an exec plugin failed): a
		 * request that got no answer, as client-go counts it. */
		count_request(w, 0);
		goto fail;
	}
	long timeout_s = o->timeout_seconds > 0 ? o->timeout_seconds : random_timeout_s();
	long silent_s = o->inactivity_seconds > 0 ? o->inactivity_seconds : DEFAULT_INACTIVITY_S;
	if (asprintf(&url, "%s%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%ld", kclient_server(c), o->path,
		     timeout_s) < 0) {
		url = NULL;
		r = cx_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	const char *match = o->resource_version_match ? o->resource_version_match : "NotOlderThan";
	if ((o->resource_version && *o->resource_version &&
	     add_param(w->easy, &url, "resourceVersion", o->resource_version)) ||
	    (o->send_initial_events &&
	     (add_param(w->easy, &url, "sendInitialEvents", "true") ||
	      add_param(w->easy, &url, "resourceVersionMatch", match))) ||
	    (o->label_selector && add_param(w->easy, &url, "labelSelector", o->label_selector))) {
		r = cx_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	CURL *h = w->easy;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, w);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, w);
	/* "Less than 1 byte a second for silent_s seconds": a dead stream. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, silent_s);
	if (curl_multi_add_handle(m->multi, h) != CURLM_OK) {
		r = cx_err_set(err, -ENOMEM, "WATCH %s: cannot add it to the multi handle", o->path);
		goto fail;
	}
	free(url);
	w->running = true;
	m->running++;
	log_kv(LOG_LEVEL_INFO, 4, "watch started", "path", w->path, "resourceVersion",
	       o->resource_version ? o->resource_version : "", NULL);
	*out = w;
	return 0;
fail:
	free(url);
	kwatch_free(&w);
	return r;
}

void kwatch_free(struct kwatch **wp)
{
	struct kwatch *w = *wp;
	if (!w)
		return;
	if (w->running)
		count_request(w, 0); /* stopped before its answer came (else it was counted then) */
	detach(w);
	if (w->easy)
		curl_easy_cleanup(w->easy);
	watch_parser_free(&w->parser);
	free(w->error_body);
	free(w->start_rv);
	free(w->path);
	free(w);
	*wp = NULL;
}

const char *kwatch_resource_version(const struct kwatch *w)
{
	const char *rv = watch_parser_resource_version(w->parser);
	return rv ? rv : w->start_rv;
}

size_t kwatch_events(const struct kwatch *w)
{
	return watch_parser_events(w->parser);
}

bool kwatch_established(struct kwatch *w)
{
	long code = w->status;
	if (!code && w->easy)
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
	return code == 200;
}
