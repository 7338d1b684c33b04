#include "config.h"

#include "statset.h"
#include "kclient.h"
#include "proto.h"
#include "ratelimit.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const statset_rest_labels[] = { "code", "method", "host", NULL };
const char *const statset_limiter_bucket_labels[] = { "verb", "host", "le", NULL };
const char *const statset_limiter_sum_labels[] = { "verb", "host", NULL };

struct statset {
	struct json_object *families; /* as statset_families returns it */
	struct json_object *index;    /* series_key -> the series object in families (a reference) */
	size_t n_series;
	bool changed;
};

struct statset *statset_new(void)
{
	struct statset *s = calloc(1, sizeof(*s));
	if (!s || !(s->families = json_object_new_object()) || !(s->index = json_object_new_object())) {
		statset_free(&s);
		return NULL;
	}
	return s;
}

void statset_free(struct statset **sp)
{
	struct statset *s = *sp;
	if (!s)
		return;
	json_object_put(s->index);
	json_object_put(s->families);
	free(s);
	*sp = NULL;
}

/* family, then each label value, each with its length in front: one string
 * per series, and no two series share it. Owned by the caller; NULL when
 * out of memory. */
static char *series_key(const char *family, const char *const *values, size_t n)
{
	char *key = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&key, &len);
	if (!f)
		return NULL;
	fprintf(f, "%zu:%s", strlen(family), family);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%zu:%s", strlen(values[i]), values[i]);
	if (fclose(f) != 0) {
		free(key);
		return NULL;
	}
	return key;
}

/* How many names there are (NULL-terminated), or -EINVAL. */
static int count_labels(const char *const *names, const char *const *values)
{
	int n = 0;
	for (; names && names[n]; n++)
		if (n >= PROTO_STATS_MAX_LABELS || !values[n])
			return -EINVAL;
	return n;
}

/* The "value" object of the series, created at 0 when create is set; NULL
 * when it does not exist (or memory ran out: *rc says which). */
static struct json_object *series_value(struct statset *s, const char *family, const char *const *names,
					const char *const *values, bool create, int *rc)
{
	*rc = 0;
	int n = count_labels(names, values);
	if (n < 0) {
		*rc = n;
		return NULL;
	}
	char *key = series_key(family, values, (size_t)n);
	if (!key) {
		*rc = -ENOMEM;
		return NULL;
	}
	struct json_object *series = NULL, *value = NULL;
	if (json_object_object_get_ex(s->index, key, &series) || !create) {
		free(key);
		return series ? json_object_object_get(series, "value") : NULL;
	}
	struct json_object *list = NULL, *labels = json_object_new_object();
	series = json_object_new_object();
	value = json_object_new_uint64(0);
	bool ok = labels && series && value;
	for (int i = 0; ok && i < n; i++)
		ok = !json_object_object_add(labels, names[i], json_object_new_string(values[i]));
	if (ok && !json_object_object_get_ex(s->families, family, &list))
		ok = (list = json_object_new_array()) && !json_object_object_add(s->families, family, list);
	if (ok) {
		json_object_object_add(series, "labels", labels);
		json_object_object_add(series, "value", value);
		labels = value = NULL;
		ok = !json_object_array_add(list, json_object_get(series)) &&
			!json_object_object_add(s->index, key, json_object_get(series));
	}
	json_object_put(labels);
	json_object_put(value);
	struct json_object *got = ok ? json_object_object_get(series, "value") : NULL;
	json_object_put(series);
	free(key);
	if (!ok)
		*rc = -ENOMEM;
	else
		s->n_series++;
	return got;
}

int statset_add(struct statset *s, const char *family, const char *const *names, const char *const *values, uint64_t n)
{
	int rc;
	struct json_object *v = series_value(s, family, names, values, true, &rc);
	if (!v)
		return rc;
	json_object_set_uint64(v, json_object_get_uint64(v) + n);
	s->changed = true;
	return 0;
}

int statset_raise(struct statset *s, const char *family, const char *const *names, const char *const *values,
		  uint64_t v, uint64_t *grew)
{
	*grew = 0;
	int rc;
	struct json_object *have = series_value(s, family, names, values, true, &rc);
	if (!have)
		return rc;
	uint64_t old = json_object_get_uint64(have);
	if (v > old) {
		*grew = v - old;
		json_object_set_uint64(have, v);
		s->changed = true;
	}
	return 0;
}

uint64_t statset_value(const struct statset *s, const char *family, const char *const *names, const char *const *values)
{
	int rc;
	/* Only a lookup: without create, series_value changes nothing. */
	struct json_object *v = series_value((struct statset *)s, family, names, values, false, &rc);
	return v ? json_object_get_uint64(v) : 0;
}

bool statset_changed(const struct statset *s)
{
	return s->changed;
}

void statset_clean(struct statset *s)
{
	s->changed = false;
}

bool statset_empty(const struct statset *s)
{
	return s->n_series == 0;
}

struct json_object *statset_families(const struct statset *s)
{
	return s->families;
}

void statset_count_request(void *ud, int code, const char *method, const char *host)
{
	char label[16];
	const char *values[] = { kclient_code_label(code, label), method ? method : "", host ? host : "" };
	statset_add(ud, STATSET_REST_REQUESTS, statset_rest_labels, values, 1);
}

const char *statset_le_label(size_t i, char *buf)
{
	if (i >= RATELIMIT_WAIT_BUCKETS_N)
		return strcpy(buf, "+Inf");
	snprintf(buf, 32, "%g", ratelimit_wait_buckets[i]);
	return buf;
}

void statset_count_wait(void *ud, const char *verb, const char *host, int64_t waited_ns)
{
	double seconds = (double)waited_ns / 1e9;
	size_t i = 0;
	while (i < RATELIMIT_WAIT_BUCKETS_N && ratelimit_wait_buckets[i] < seconds)
		i++;
	char le[32];
	const char *bucket[] = { verb ? verb : "", host ? host : "", statset_le_label(i, le) };
	statset_add(ud, STATSET_LIMITER_BUCKET, statset_limiter_bucket_labels, bucket, 1);
	/* Rounded, not truncated: many short waits would otherwise lose most of their sum. */
	statset_add(ud, STATSET_LIMITER_SUM_US, statset_limiter_sum_labels, bucket,
		    waited_ns > 0 ? (uint64_t)((waited_ns + 500) / 1000) : 0);
}
