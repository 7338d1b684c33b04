#include "config.h"

#include "httpd.h"
#include "err.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libmicrohttpd 0.9.71 turned the callbacks' int into enum MHD_Result. */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

/* Accepted connections at once, and seconds of silence before one is
 * dropped: a scraper or a probe needs one or two, and nothing here should
 * let slow clients pile up. */
#define HTTPD_CONNECTION_LIMIT     32
#define HTTPD_CONNECTION_TIMEOUT_S 10

#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"
#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct httpd {
	struct MHD_Daemon *daemon;
	int epoll_fd; /* MHD's, polled by the caller */
	int port;
	struct httpd_handlers handlers;
	void *ud;
	char address[128]; /* as given, for log lines */
};

static const char usage[] = "expected [host]:port, e.g. \":8081\", \"127.0.0.1:8081\" or \"[::1]:8081\"";

/* "0".."65535" only: no sign, no spaces, no service names. */
static int parse_port(const char *s, int *port)
{
	if (!*s || strlen(s) > 5)
		return -1;
	int v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* Resolves host (a literal or a name) to one address; IPv4 first, as Go's
 * net.Listen does for a name that has both. */
static int resolve_host(const char *address, const char *host, bool v6_literal, struct sockaddr_storage *ss,
			socklen_t *len, struct cx_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	hints.ai_family = v6_literal ? AF_INET6 : AF_UNSPEC;
	if (v6_literal)
		hints.ai_flags |= AI_NUMERICHOST;
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		return cx_err_set(err, -EINVAL, "address \"%s\": %s \"%s\": %s", address,
				  v6_literal ? "invalid IPv6 address" : "cannot resolve host", host, gai_strerror(rc));
	const struct addrinfo *pick = NULL;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
		if (ai->ai_family == AF_INET6 && !pick)
			pick = ai;
	}
	if (!pick || pick->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return cx_err_set(err, -EINVAL, "address \"%s\": host \"%s\" has no IPv4 or IPv6 address", address,
				  host);
	}
	memcpy(ss, pick->ai_addr, pick->ai_addrlen);
	*len = pick->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int httpd_parse_address(const char *address, struct sockaddr_storage *ss, socklen_t *len, struct cx_err *err)
{
	memset(ss, 0, sizeof(*ss));
	*len = 0;
	if (!address || !*address)
		return cx_err_set(err, -EINVAL, "empty listen address: %s", usage);
	if (strlen(address) >= 256)
		return cx_err_set(err, -EINVAL, "listen address \"%.40s...\" is too long", address);

	char host[256];
	const char *port_str;
	bool v6_literal = false;
	if (address[0] == '[') {
		const char *close = strchr(address, ']');
		if (!close || close[1] != ':')
			return cx_err_set(err, -EINVAL, "address \"%s\": %s", address, usage);
		size_t n = (size_t)(close - address - 1);
		memcpy(host, address + 1, n);
		host[n] = '\0';
		port_str = close + 2;
		v6_literal = true;
		if (!n)
			return cx_err_set(err, -EINVAL, "address \"%s\": empty IPv6 address in brackets", address);
	} else {
		const char *colon = strrchr(address, ':');
		if (!colon)
			return cx_err_set(err, -EINVAL, "address \"%s\": no port: %s", address, usage);
		size_t n = (size_t)(colon - address);
		memcpy(host, address, n);
		host[n] = '\0';
		if (memchr(host, ':', n))
			return cx_err_set(err, -EINVAL,
					  "address \"%s\": an IPv6 address goes in brackets, e.g. \"[::1]:8081\"",
					  address);
		port_str = colon + 1;
	}
	int port;
	if (parse_port(port_str, &port) < 0)
		return cx_err_set(err, -EINVAL, "address \"%s\": port \"%s\" is not a number from 0 to 65535", address,
				  port_str);

	if (!*host) {
		/* Every interface: IPv6's any, made dual-stack when listening
		 * (and IPv4's any when the host has no IPv6). */
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	int rc = resolve_host(address, host, v6_literal, ss, len, err);
	if (rc < 0)
		return rc;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return 0;
}

static bool is_v6_any(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 &&
		memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, &in6addr_any, sizeof(struct in6_addr)) == 0;
}

/* Opens a non-blocking listening socket on ss. Returns the fd or -errno. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, zero = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (is_v6_any(ss) && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:;
	int code = -errno;
	close(fd);
	return code;
}

/* Reads the port back: the kernel's choice when 0 was asked. */
static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* libmicrohttpd's error messages, into our log. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct httpd *h = cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_kv(LOG_LEVEL_WARNING, 0, "http server", "address", h->address, "detail", msg, NULL);
}

/* Queues a response whose body is copied from body[0..len). */
static mhd_result respond(struct MHD_Connection *c, unsigned status, const char *content_type, const char *body,
			  size_t len, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
	    (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	mhd_result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static mhd_result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return respond(c, status, CONTENT_TYPE_TEXT, text, strlen(text), NULL);
}

/* /healthz and /readyz. */
static mhd_result respond_check(struct httpd *h, struct MHD_Connection *c, bool (*check)(void *, char *, size_t),
				const char *fallback)
{
	char why[HTTPD_WHY_MAX] = "";
	if (check(h->ud, why, sizeof(why)))
		return respond_text(c, MHD_HTTP_OK, "ok");
	why[sizeof(why) - 1] = '\0';
	return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why[0] ? why : fallback);
}

static mhd_result respond_metrics(struct httpd *h, struct MHD_Connection *c)
{
	char *text = NULL;
	size_t len = 0;
	int rc = h->handlers.metrics(h->ud, &text, &len);
	if (rc < 0 || !text) {
		free(text);
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot render metrics: %s", strerror(rc < 0 ? -rc : EIO));
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	/* MHD takes the buffer and free()s it. */
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	mhd_result out = MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS) == MHD_YES &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") == MHD_YES)
		out = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return out;
}

/* Answers on the first call, when the headers are in: no path here takes a
 * body, and answering a request that has one (a POST) makes MHD discard it
 * and close the connection afterwards. */
static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			     const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	struct httpd *h = cls;
	enum { NONE, HEALTHZ, READYZ, METRICS } path = NONE;
	if (strcmp(url, "/healthz") == 0 && h->handlers.healthy)
		path = HEALTHZ;
	else if (strcmp(url, "/readyz") == 0 && h->handlers.ready)
		path = READYZ;
	else if (strcmp(url, "/metrics") == 0 && h->handlers.metrics)
		path = METRICS;
	if (path == NONE)
		return respond_text(c, MHD_HTTP_NOT_FOUND, "404 page not found\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, CONTENT_TYPE_TEXT, "method not allowed\n",
			       strlen("method not allowed\n"), "GET, HEAD");
	switch (path) {
	case HEALTHZ:
		return respond_check(h, c, h->handlers.healthy, "not healthy");
	case READYZ:
		return respond_check(h, c, h->handlers.ready, "not ready");
	default:
		return respond_metrics(h, c);
	}
}

int httpd_new(const char *address, const struct httpd_handlers *handlers, void *ud, struct httpd **out,
	      struct cx_err *err)
{
	*out = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int r = httpd_parse_address(address, &ss, &sslen, err);
	if (r < 0)
		return r;
	if (!MHD_is_feature_supported(MHD_FEATURE_EPOLL))
		return cx_err_set(err, -ENOTSUP, "http server on \"%s\": this libmicrohttpd has no epoll support",
				  address);
	int fd = listen_on(&ss, sslen);
	if ((fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) && is_v6_any(&ss)) {
		/* ":port" on a host without IPv6: IPv4's any. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		uint16_t port = ((struct sockaddr_in6 *)&ss)->sin6_port;
		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = port;
		sslen = sizeof(*s4);
		fd = listen_on(&ss, sslen);
	}
	if (fd < 0)
		return cx_err_set(err, fd, "cannot listen on \"%s\": %s", address, strerror(-fd));

	struct httpd *h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		return cx_err_set(err, -ENOMEM, "http server on \"%s\": out of memory", address);
	}
	if (handlers)
		h->handlers = *handlers;
	h->ud = ud;
	h->epoll_fd = -1;
	h->port = bound_port(fd);
	snprintf(h->address, sizeof(h->address), "%s", address);

	/* No MHD thread: epoll, driven by httpd_pollfd/httpd_dispatch. */
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
				     (MHD_LogCallback)mhd_log, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPD_CONNECTION_LIMIT,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_CONNECTION_TIMEOUT_S,
				     MHD_OPTION_END);
	if (!h->daemon) {
		/* Whether MHD closed the socket on failure depends on its version. */
		if (fcntl(fd, F_GETFD) >= 0)
			close(fd);
		free(h);
		return cx_err_set(err, -EIO, "http server on \"%s\": libmicrohttpd did not start (see the log above)",
				  address);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		httpd_free(&h);
		return cx_err_set(err, -EIO, "http server on \"%s\": libmicrohttpd gave no epoll fd", address);
	}
	h->epoll_fd = info->epoll_fd;
	*out = h;
	return 0;
}

void httpd_free(struct httpd **h)
{
	if (!h || !*h)
		return;
	/* Closes the listening socket too. */
	if ((*h)->daemon)
		MHD_stop_daemon((*h)->daemon);
	free(*h);
	*h = NULL;
}

int httpd_port(const struct httpd *h)
{
	return h ? h->port : -1;
}

void httpd_pollfd(struct httpd *h, struct pollfd *pfd, long *timeout_ms)
{
	pfd->fd = h->epoll_fd;
	pfd->events = POLLIN;
	pfd->revents = 0;
	MHD_UNSIGNED_LONG_LONG t;
	if (MHD_get_timeout(h->daemon, &t) != MHD_YES)
		*timeout_ms = -1;
	else
		*timeout_ms = t > INT_MAX ? INT_MAX : (long)t;
}

int httpd_dispatch(struct httpd *h)
{
	if (MHD_run(h->daemon) != MHD_YES) {
		log_kv(LOG_LEVEL_ERROR, 0, "http server failed", "address", h->address, NULL);
		return -EIO;
	}
	return 0;
}
