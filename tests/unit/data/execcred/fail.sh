#!/bin/sh
# Fails with exit status 3 after explaining itself on stderr over two lines;
# with EXECCRED_NOISE=1 it first writes ~8 KiB of noise, so only the tail of
# stderr can fit in the message.
echo "first line of noise" >&2
if [ "$EXECCRED_NOISE" = 1 ]; then
	i=0
	while [ $i -lt 150 ]; do
		echo "noise noise noise noise noise noise noise $i" >&2
		i=$((i + 1))
	done
fi
printf 'error: could not reach\nthe identity provider\n' >&2
exit 3
