/* k8sname: what Kubernetes accepts as names, API versions, label keys and
 * label values, for the files coxswain reads (coxswain.yaml, metacontroller
 * manifests) to refuse what the API server would refuse, before it does. */
#ifndef COXSWAIN_K8SNAME_H
#define COXSWAIN_K8SNAME_H

#include <stdbool.h>

/* An RFC 1123 label: at most 63 lowercase letters, digits and '-', starting
 * and ending with a letter or digit (a namespace, a Service name). */
bool k8sname_dns_label(const char *s);

/* An RFC 1123 subdomain: dot-separated labels, at most 253 bytes (most
 * object names, API groups). */
bool k8sname_dns_subdomain(const char *s);

/* "v1" (the core group) or "group/version", the group a subdomain and the
 * version a label. */
bool k8sname_api_version(const char *s);

/* A name the API server takes in a URL path: not empty, not "." or "..",
 * no '/' or '%' (its path segment rule; each kind may narrow it, which the
 * server then says). */
bool k8sname_path_segment(const char *s);

/* A label or annotation key: [prefix/]name, the prefix a subdomain, the name
 * at most 63 letters, digits, '-', '_' and '.', starting and ending with a
 * letter or digit. */
bool k8sname_label_key(const char *s);

/* A label value: empty, or like the name part of a key. */
bool k8sname_label_value(const char *s);

#endif
