#include "config.h"

#include "objstore.h"

#include <errno.h>
#include <stdlib.h>

struct objstore *objstore_new(void) { return NULL; }
void objstore_free(struct objstore **s) { (void)s; }
bool objstore_key(struct json_object *obj, char *buf, size_t len) { (void)obj; (void)buf; (void)len; return false; }
int objstore_put(struct objstore *s, struct json_object *obj, struct cx_err *err) { (void)s; (void)obj; (void)err; return -ENOSYS; }
int objstore_put_entry(struct objstore *s, const struct objstore_entry *e) { (void)s; (void)e; return -ENOSYS; }
int objstore_delete(struct objstore *s, const char *key) { (void)s; (void)key; return -ENOSYS; }
const struct objstore_entry *objstore_find(const struct objstore *s, const char *key) { (void)s; (void)key; return NULL; }
struct json_object *objstore_get_new(const struct objstore *s, const char *key) { (void)s; (void)key; return NULL; }
struct json_object *objstore_entry_parse_new(const struct objstore_entry *e) { (void)e; return NULL; }
size_t objstore_count(const struct objstore *s) { (void)s; return 0; }
const struct objstore_entry *objstore_next(const struct objstore *s, size_t *cursor) { (void)s; (void)cursor; return NULL; }
uint64_t objstore_revision(const struct objstore *s) { (void)s; return 0; }
