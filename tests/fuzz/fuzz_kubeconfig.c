/* libFuzzer target for common/kubeconfig: any bytes as a kubeconfig file,
 * then every context resolved. Invariants: load either succeeds or fails with
 * a negative code and a message naming the file; nothing crashes, leaks or
 * reads out of bounds (ASan/UBSan). The file lives in a memfd, so the fuzzer
 * touches no disk for it. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"
#include "kubeconfig.h"
#include "restconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("kubeconfig", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	struct cx_err err = { 0 };
	struct kubeconfig *kc = NULL;
	kubeconfig_load(path, &kc, &err);
	if (!kc) {
		if (err.code >= 0 || !strstr(err.msg, path))
			abort(); /* every failure is an error that names the file */
	} else {
		for (size_t i = 0; i < kc->n_contexts; i++) {
			struct restconfig *rc = NULL;
			struct cx_err rerr = { 0 };
			int r = kubeconfig_restconfig(kc, kc->contexts[i].name, &rc, &rerr);
			if ((r == 0) != (rc != NULL) || (r && rerr.code != r))
				abort();
			restconfig_free(&rc);
		}
		kubeconfig_free(&kc);
	}
	close(fd);
	return 0;
}
