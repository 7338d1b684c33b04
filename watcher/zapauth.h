/* zapauth: the job channel's gatekeeper, a ZeroMQ ZAP handler (RFC 27)
 * that lets in only CURVE clients whose public key is authorized.
 *
 * The broker's ROUTER is a CURVE server: the handshake already refuses any
 * peer that does not speak CURVE or does not know the watcher's public key.
 * What CURVE alone does not decide is *who* may connect: every client key
 * would do. libzmq asks the ZAP handler bound at inproc://zeromq.zap.01 in
 * the same context, once per connection, and this handler answers 200 only
 * for a key listed in the authorized keys (common/curvekey.h), 400 for any
 * other. A refused peer gets no message and can send none: its
 * connection never completes, so it can neither read jobs nor answer them
 * nor claim a slot.
 *
 * The list is read at start-up (an unreadable or empty list stops the
 * start-up) and read again, at most every reload_ms, when a connection
 * asks: a key added to or removed from a mounted Secret applies to
 * connections made after that. A connection already let in stays. When
 * the list cannot be read again the last good one stays in force and the
 * error is logged once.
 *
 * A refused key is logged once (the key is public, the message names the
 * peer's address and the authorized keys' path); every refusal is counted.
 *
 * Single-threaded: poll zapauth_socket() (ZMQ_POLLIN) and call
 * zapauth_dispatch() after each poll, as with the broker's socket. libzmq
 * holds a connection's handshake until the answer comes, so a handler that
 * is not polled delays connections, it does not let them in. */
#ifndef COXSWAIN_ZAPAUTH_H
#define COXSWAIN_ZAPAUTH_H

#include <stdint.h>

struct cx_err;
struct zapauth;

/* Binds the ZAP handler in the ZeroMQ context ctx (borrowed; it must
 * outlive the handler) and loads the authorized keys at authorized_path
 * (copied). Must be called before the socket it guards binds. reload_ms
 * 0 = 2000. Hands out the handler in *out; returns 0, or a negative errno
 * with *out NULL and err filled. */
int zapauth_new(void *ctx, const char *authorized_path, int reload_ms, struct zapauth **out, struct cx_err *err);

/* Closes the socket and frees; NULL and *z == NULL are fine. */
void zapauth_free(struct zapauth **z);

/* The socket to poll for ZMQ_POLLIN. Borrowed. */
void *zapauth_socket(struct zapauth *z);

/* Answers every request waiting on the socket. */
void zapauth_dispatch(struct zapauth *z, int64_t now_ms);

/* Connections refused so far. */
uint64_t zapauth_refusals(const struct zapauth *z);

#endif
