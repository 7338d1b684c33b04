/* selector: label and annotation selectors evaluated on the client side
 * (Kubernetes' labels.Selector rules). */
#include <criterion/criterion.h>
#include <json-c/json.h>

#include "mcdef.h"
#include "selector.h"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

/* A selector with one matchAnnotations pair (key NULL: none) and up to two
 * expressions. */
struct fixture {
	struct mcdef_selector sel;
	char *keys[1], *values[1];
	struct mcdef_requirement exprs[2];
};

static void expr(struct fixture *f, const char *key, enum mcdef_selector_op op, char **values, size_t n)
{
	struct mcdef_requirement *r = &f->exprs[f->sel.n_exprs++];
	*r = (struct mcdef_requirement){.key = (char *)key, .op = op, .values = values, .n_values = n,
					.has_values = n > 0};
	f->sel.exprs = f->exprs;
	f->sel.has_exprs = true;
	f->sel.set = true;
}

static void match(struct fixture *f, const char *key, const char *value)
{
	f->keys[0] = (char *)key;
	f->values[0] = (char *)value;
	f->sel.match_keys = f->keys;
	f->sel.match_values = f->values;
	f->sel.n_match = 1;
	f->sel.has_match = true;
	f->sel.set = true;
}

static bool on(const struct mcdef_selector *sel, const char *map)
{
	struct json_object *m = json(map);
	bool r = selector_matches(sel, m);
	json_object_put(m);
	return r;
}

Test(selector, absent_or_empty_selects_everything)
{
	struct mcdef_selector none = {0}, empty = {.set = true, .has_match = true};
	cr_assert(selector_matches(NULL, NULL));
	cr_assert(selector_matches(&none, NULL));
	cr_assert(on(&none, "{\"a\":\"b\"}"));
	cr_assert(selector_matches(&empty, NULL));
	cr_assert(on(&empty, "{}"));
}

Test(selector, match_needs_the_key_with_that_value)
{
	struct fixture f = {0};
	match(&f, "decorate", "yes");
	cr_assert(on(&f.sel, "{\"decorate\":\"yes\",\"other\":\"x\"}"));
	cr_assert_not(on(&f.sel, "{\"decorate\":\"no\"}"));
	cr_assert_not(on(&f.sel, "{\"other\":\"yes\"}"));
	cr_assert_not(selector_matches(&f.sel, NULL), "no map at all is an empty map");
	cr_assert_not(on(&f.sel, "{\"decorate\":true}"), "a value that is not a string is absent");
}

Test(selector, in_and_not_in)
{
	char *vals[] = {"a", "b"};
	struct fixture in = {0}, notin = {0};
	expr(&in, "tier", MCDEF_OP_IN, vals, 2);
	expr(&notin, "tier", MCDEF_OP_NOT_IN, vals, 2);
	cr_assert(on(&in.sel, "{\"tier\":\"b\"}"));
	cr_assert_not(on(&in.sel, "{\"tier\":\"c\"}"));
	cr_assert_not(on(&in.sel, "{}"), "In needs the key");
	cr_assert_not(on(&notin.sel, "{\"tier\":\"a\"}"));
	cr_assert(on(&notin.sel, "{\"tier\":\"c\"}"));
	cr_assert(on(&notin.sel, "{}"), "NotIn selects an object without the key");
}

Test(selector, exists_and_does_not_exist)
{
	struct fixture ex = {0}, dne = {0};
	expr(&ex, "service-per-pod-label", MCDEF_OP_EXISTS, NULL, 0);
	expr(&dne, "legacy", MCDEF_OP_DOES_NOT_EXIST, NULL, 0);
	cr_assert(on(&ex.sel, "{\"service-per-pod-label\":\"\"}"), "an empty value exists");
	cr_assert_not(on(&ex.sel, "{\"other\":\"x\"}"));
	cr_assert(on(&dne.sel, "{\"other\":\"x\"}"));
	cr_assert_not(on(&dne.sel, "{\"legacy\":\"1\"}"));
}

Test(selector, everything_must_hold)
{
	char *vals[] = {"on"};
	struct fixture f = {0};
	match(&f, "team", "a");
	expr(&f, "ports", MCDEF_OP_EXISTS, NULL, 0);
	expr(&f, "mode", MCDEF_OP_IN, vals, 1);
	cr_assert(on(&f.sel, "{\"team\":\"a\",\"ports\":\"80\",\"mode\":\"on\"}"));
	cr_assert_not(on(&f.sel, "{\"team\":\"a\",\"mode\":\"on\"}"));
	cr_assert_not(on(&f.sel, "{\"team\":\"b\",\"ports\":\"80\",\"mode\":\"on\"}"));
	cr_assert_not(on(&f.sel, "{\"team\":\"a\",\"ports\":\"80\",\"mode\":\"off\"}"));
}

Test(selector, reads_an_objects_annotations_or_labels)
{
	struct fixture f = {0};
	match(&f, "k", "v");
	struct json_object *o = json("{\"metadata\":{\"labels\":{\"k\":\"v\"},\"annotations\":{\"k\":\"w\"}}}");
	cr_assert(selector_matches_labels(&f.sel, o));
	cr_assert_not(selector_matches_annotations(&f.sel, o));
	json_object_put(o);
	cr_assert_not(selector_matches_annotations(&f.sel, NULL));
}
