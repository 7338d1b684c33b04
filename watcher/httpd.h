/* httpd: /healthz, /readyz and /metrics over libmicrohttpd, driven by the
 * caller's poll loop.
 *
 * The watcher is one thread polling many fds (curl's watches, the broker's
 * ZeroMQ socket), so the daemon runs without threads of its own: MHD in
 * epoll mode gives one fd to poll, and httpd_dispatch lets it work.
 *
 *     struct pollfd fds[N];
 *     for (;;) {
 *             long timeout_ms, t;
 *             size_t n = kwatch_mux_pollfds(mux, fds, N - 1, &timeout_ms);
 *             httpd_pollfd(h, &fds[n], &t);
 *             timeout_ms = timeout_ms < 0 ? t : t < 0 ? timeout_ms : t < timeout_ms ? t : timeout_ms;
 *             poll(fds, n + 1, timeout_ms);
 *             kwatch_mux_dispatch(mux, fds, n);
 *             httpd_dispatch(h);    // every turn, ready or not: MHD has timers
 *     }
 *
 * Paths (GET and HEAD; anything else is 405 with an Allow header):
 *   /healthz   200 "ok", or 503 with the reason the healthy callback gave
 *   /readyz    200 "ok", or 503 with the reason (e.g. "waiting for CRD
 *              websites.example.com (not found)")
 *   /metrics   200, Content-Type: text/plain; version=0.0.4; charset=utf-8
 *   others     404
 * A path whose callback is NULL is not served (404): health and metrics on
 * different addresses are two daemons, each given its subset of callbacks;
 * on one address, one daemon with all three.
 *
 * Callbacks run inside httpd_dispatch, on the caller's thread; they must not
 * block, as nothing else turns while they run. */
#ifndef COXSWAIN_HTTPD_H
#define COXSWAIN_HTTPD_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct cx_err;
struct httpd;

/* Room the health callbacks get for their reason. */
/* Room for every controller that is not ready with its API error. */
#define HTTPD_WHY_MAX 8192

struct httpd_handlers {
	/* Returns true when healthy; otherwise writes why (NUL-terminated, at
	 * most cap bytes with the NUL) and returns false. An empty why gives
	 * "not healthy" / "not ready". */
	bool (*healthy)(void *ud, char *why, size_t cap);
	bool (*ready)(void *ud, char *why, size_t cap);
	/* Fills *text (malloc'ed; the httpd frees it) and *len, returns 0; or
	 * a negative code, answered with 500. metrics_render_cb fits. */
	int (*metrics)(void *ud, char **text, size_t *len);
};

/* Parses a listen address as Go's net.Listen takes it: "host:port" where
 * host is an IPv4 address, a bracketed IPv6 address ("[::1]:8081"), a name
 * that resolves ("localhost:8081"), or empty (":8081": every interface, IPv6
 * and IPv4 when the host has IPv6). port is 0..65535 (0: the kernel picks).
 * Fills *ss and *len. Returns 0, or -EINVAL with err naming the value and
 * what was expected. */
int httpd_parse_address(const char *address, struct sockaddr_storage *ss, socklen_t *len, struct cx_err *err);

/* Listens on address (see httpd_parse_address) and serves the paths whose
 * callbacks in h are set (h is copied; ud is passed to each callback).
 * Hands out an owned daemon in *out. Returns 0, or with *out NULL and err
 * filled: -EINVAL for a bad address, the bind/listen errno ("cannot listen on
 * \"127.0.0.1:8081\": Address already in use"), -EIO when libmicrohttpd would
 * not start. */
int httpd_new(const char *address, const struct httpd_handlers *h, void *ud, struct httpd **out, struct cx_err *err);

/* Stops the daemon (closing its socket and connections), frees it and sets
 * *h to NULL. NULL and *h NULL are fine. */
void httpd_free(struct httpd **h);

/* The port listened on: the one asked for, or the kernel's pick for port 0. */
int httpd_port(const struct httpd *h);

/* Fills *pfd with the one fd to poll (POLLIN) and sets *timeout_ms to how
 * long the caller may wait before calling httpd_dispatch even when the fd is
 * not ready (-1: no deadline; 0: call it at once). */
void httpd_pollfd(struct httpd *h, struct pollfd *pfd, long *timeout_ms);

/* Accepts, reads, answers and times out connections; callbacks are called
 * from here. Call it after each poll, whether or not the fd was ready. Never
 * blocks. Returns 0, or -EIO when libmicrohttpd failed. */
int httpd_dispatch(struct httpd *h);

#endif
