#!/bin/sh
# Answers {"status": {"echo": <the request>}} by streaming stdin to stdout as
# it arrives (cat), so a big request and a big answer are in flight at once.
printf '{"status": {"echo": '
cat
printf '}}\n'
