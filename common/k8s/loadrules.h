/* loadrules: kubectl's loading rules, which find the restconfig a program
 * runs as: the --kubeconfig file, the KUBECONFIG list, ~/.kube/config, then
 * in-cluster. It sits above kubeconfig (one file, resolved into a
 * restconfig) and restconfig (the type, and the in-cluster one), so that
 * kubeconfig includes restconfig and never the other way round. */
#ifndef COXSWAIN_LOADRULES_H
#define COXSWAIN_LOADRULES_H

struct cx_err;
struct restconfig;

/* Where to look, from the command line; every field may be NULL. */
struct loadrules_opts {
	const char *kubeconfig;         /* --kubeconfig: this file only */
	const char *context;            /* --context: instead of current-context */
	const char *namespace;          /* --namespace: instead of the context's */
	const char *serviceaccount_dir; /* in-cluster credentials; NULL = the standard mount */
};

/* Finds the configuration as kubectl does: the --kubeconfig file; else each
 * existing file of the colon-separated KUBECONFIG list, merged (the first to
 * set a value wins); else ~/.kube/config; else in-cluster. Hands back an
 * owned restconfig in *out. Errors name the file, context, cluster or user and
 * the field; when nothing is found, the message lists what was tried. */
int loadrules_restconfig(const struct loadrules_opts *o, struct restconfig **out, struct cx_err *err);

#endif
