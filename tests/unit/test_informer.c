/* Unit tests for watcher/informer's choice of how to fill its store: when a
 * streaming list that ended before its initial-events-end bookmark means the
 * server does not do streaming lists (LIST from then on) and when it is a
 * transient failure (stream again), and which informers stream at all. The
 * lists themselves run against the real API server in
 * tests/integration/test_informer_live.c. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>

#include "discovery.h"
#include "err.h"
#include "informer.h"
#include "kwatch.h"

Test(informer, invalid_parameters_are_a_refusal)
{
	/* An older server, or 1.27+ with the WatchList gate off: Invalid. */
	cr_assert(informer_stream_refused(-EINVAL, 422, false));
	cr_assert(informer_stream_refused(-EINVAL, 400, false));
}

Test(informer, forbidden_and_method_not_allowed_are_a_refusal)
{
	/* May list but not watch: LIST fills the store as before streaming lists. */
	cr_assert(informer_stream_refused(-EACCES, 403, false));
	cr_assert(informer_stream_refused(-EIO, 405, false));
}

Test(informer, a_clean_end_without_the_bookmark_is_a_refusal)
{
	/* The server answered and closed the watch, never saying the initial
	 * events were over: it ignored sendInitialEvents. */
	cr_assert(informer_stream_refused(0, 0, true));
}

Test(informer, transient_failures_are_not_a_refusal)
{
	cr_assert_not(informer_stream_refused(-ECONNREFUSED, 0, false), "no server");
	cr_assert_not(informer_stream_refused(-EIO, 500, false), "5xx");
	cr_assert_not(informer_stream_refused(-EIO, 503, true), "5xx in an ERROR event");
	cr_assert_not(informer_stream_refused(-EBUSY, 429, false), "throttled by APF");
	cr_assert_not(informer_stream_refused(-EPROTO, 0, true), "cut mid-event");
	cr_assert_not(informer_stream_refused(-ETIMEDOUT, 0, true), "went silent");
	cr_assert_not(informer_stream_refused(-EIO, 0, true), "connection dropped");
	cr_assert_not(informer_stream_refused(-ESTALE, 410, true), "too old: stream again from scratch");
	cr_assert_not(informer_stream_refused(-EPERM, 401, false), "credentials: the LIST would fail alike");
}

static char group[] = "", version[] = "v1", kind[] = "ConfigMap", resource[] = "configmaps";
static struct kresource cms = { .group = group,
				.version = version,
				.api_version = version,
				.kind = kind,
				.resource = resource,
				.namespaced = true };

/* Which informers stream: the option, else the process default at
 * informer_new. Nothing is sent before informer_tick, so no server is
 * needed (the client is never used). */
Test(informer, the_option_and_the_process_default_decide_who_streams)
{
	struct cx_err err = { 0 };
	struct kwatch_mux *mux = NULL;
	kwatch_mux_new(&mux, &err);
	cr_assert_not_null(mux, "%s", err.msg);
	struct informer_options o = { .resource = &cms, .namespace = "x" };
	struct informer *def = NULL;
	informer_new(NULL, mux, &o, &def, &err);
	o.initial_list = INFORMER_INITIAL_STREAM;
	struct informer *stream = NULL;
	informer_new(NULL, mux, &o, &stream, &err);
	informer_set_initial_list(INFORMER_INITIAL_STREAM);
	o.initial_list = INFORMER_INITIAL_DEFAULT;
	struct informer *def_stream = NULL;
	informer_new(NULL, mux, &o, &def_stream, &err);
	o.initial_list = INFORMER_INITIAL_LIST;
	struct informer *list = NULL;
	informer_new(NULL, mux, &o, &list, &err);
	informer_set_initial_list(INFORMER_INITIAL_LIST);
	cr_assert(def && list && def_stream && stream, "%s", err.msg);
	cr_assert_not(informer_streaming(def), "paginated LIST by default");
	cr_assert(informer_streaming(stream), "the option wins over the process default");
	cr_assert(informer_streaming(def_stream), "the process default at informer_new");
	cr_assert_not(informer_streaming(list), "the option wins over the process default");
	cr_assert_not(informer_synced(def));
	cr_assert_eq(informer_streams(def) + informer_lists(def), 0, "nothing before the first tick");
	informer_free(&def);
	informer_free(&list);
	informer_free(&def_stream);
	informer_free(&stream);
	kwatch_mux_free(&mux);
}
