/* watcher/controller's parent filter: a DecoratorController's
 * annotationSelector decides which objects are synced (controller_selects). */
#include <criterion/criterion.h>
#include <json-c/json.h>

#include "controller.h"
#include "cxconfig.h"
#include "mcdef.h"

static struct json_object *json(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	cr_assert_not_null(o, "test JSON: %s", s);
	return o;
}

static bool selects(const struct config_controller *cc, const char *obj)
{
	struct json_object *o = json(obj);
	bool r = controller_selects(cc, o);
	json_object_put(o);
	return r;
}

static char key[] = "decorate", yes[] = "yes", fin[] = "metacontroller.io/decoratorcontroller-d";
static char *keys[] = { key }, *values[] = { yes };
static const struct selector SEL = {
	.set = true, .has_match = true, .match_keys = keys, .match_values = values, .n_match = 1
};

Test(controller_selects, without_a_selector_everything)
{
	struct config_controller cc = { .finalizer = fin };
	cr_assert(selects(&cc, "{\"metadata\":{\"name\":\"a\"}}"));
}

Test(controller_selects, the_annotation_selector_decides)
{
	struct config_controller cc = { .kind = CONFIG_KIND_DECORATOR, .annotation_selector = &SEL, .finalizer = fin };
	cr_assert(selects(&cc, "{\"metadata\":{\"name\":\"a\",\"annotations\":{\"decorate\":\"yes\"}}}"));
	cr_assert_not(selects(&cc, "{\"metadata\":{\"name\":\"a\",\"annotations\":{\"decorate\":\"no\"}}}"));
	cr_assert_not(selects(&cc, "{\"metadata\":{\"name\":\"a\",\"labels\":{\"decorate\":\"yes\"}}}"),
		      "labels are not annotations");
	cr_assert_not(selects(&cc, "{\"metadata\":{\"name\":\"a\",\"finalizers\":[\"other\"]}}"));
}

Test(controller_selects, an_unselected_object_with_our_finalizer_still_goes_to_the_worker)
{
	struct config_controller cc = { .kind = CONFIG_KIND_DECORATOR, .annotation_selector = &SEL, .finalizer = fin };
	cr_assert(selects(&cc,
			  "{\"metadata\":{\"name\":\"a\",\"finalizers\":[\"x\","
			  "\"metacontroller.io/decoratorcontroller-d\"]}}"));
	cc.finalizer = NULL;
	cr_assert_not(selects(&cc, "{\"metadata\":{\"name\":\"a\",\"finalizers\":[\"x\"]}}"));
}
