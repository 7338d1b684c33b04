/* kclient: an HTTP client for one API server as one identity (libcurl).
 *
 * One curl easy handle per client, reused across requests so the TLS
 * connection stays open (keep-alive; HTTP/2 when libcurl has it). A kclient
 * is not thread-safe: the watcher and each worker own their own. Responses
 * are parsed with json-c; an API error response (a `Status` object) becomes
 * a cx_err with the HTTP status, the Status reason and the server's message,
 * which already names the user, resource and field. */
#ifndef COXSWAIN_KCLIENT_H
#define COXSWAIN_KCLIENT_H

struct cx_err;
struct json_object;
struct kclient;
struct restconfig;

struct kclient_options {
	long connect_timeout_ms;   /* TCP + TLS connect; 0 = 5000 */
	long timeout_ms;           /* a whole request; 0 = 30000 */
};

/* Makes a client for rc. rc is borrowed: it must outlive the client.
 * opts may be NULL for the defaults. Returns NULL with err filled on failure. */
struct kclient *kclient_new(const struct restconfig *rc, const struct kclient_options *opts, struct cx_err *err);

void kclient_free(struct kclient **c);

/* GETs path (e.g. "/version", "/api/v1/namespaces/x/configmaps/y") and
 * hands back the parsed body as an owned json_object in *out.
 * Returns 0, or a negative code with err filled:
 *   -EACCES (403), -EPERM (401), -ENOENT (404), -EINVAL (400, 422),
 *   -EEXIST (409), -ESTALE (410 Gone), -EBUSY (429), -EIO (5xx, other),
 *   -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EPROTO (TLS), -EBADMSG (not JSON). */
int kclient_get(struct kclient *c, const char *path, struct json_object **out, struct cx_err *err);

#endif
