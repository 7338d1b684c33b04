#!/usr/bin/env python3
"""A strict reader of the Prometheus text exposition format 0.0.4, for
tests/e2e/test_metrics_live.sh: it parses a live scrape of coxswain's
/metrics (on stdin) and answers questions about it.

    exposition.py check                       the whole scrape is well-formed
    exposition.py sum NAME [LABEL=VALUE...]   the sum of NAME's samples whose
                                              labels have those values
    exposition.py series NAME [LABEL=VALUE...]  those samples, one a line

Every command checks the whole scrape first and exits 1, naming the line,
when it is not well-formed:
  - a line is a sample `name{label="value",...} value`, a `# HELP name text`,
    a `# TYPE name counter|gauge|histogram|summary|untyped`, or another
    comment; no blank line, no trailing white space;
  - names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
    (not "__..."), label values are quoted with only \\\\, \\" and \\n escaped,
    a label appears once per sample; values are floats, NaN, +Inf or -Inf;
  - HELP and TYPE appear at most once per family, before its samples; a
    family's samples are together (not interleaved with another family's);
  - a histogram's samples are NAME_bucket (with le), NAME_sum and NAME_count,
    and a counter's values are >= 0; no two samples share name and labels.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Bad(Exception):
    pass


def parse_labels(text, lineno):
    """label="value",... -> dict; strict about quoting and escapes."""
    labels, i = {}, 0
    while i < len(text):
        m = re.compile(LABEL).match(text, i)
        if not m:
            raise Bad(f"line {lineno}: bad label name at {text[i:i + 20]!r}")
        name = m.group(0)
        if name.startswith("__"):
            raise Bad(f"line {lineno}: reserved label name {name}")
        i = m.end()
        if text[i:i + 2] != '="':
            raise Bad(f"line {lineno}: label {name}: expected =\"")
        i += 2
        value = []
        while True:
            if i >= len(text):
                raise Bad(f"line {lineno}: label {name}: unterminated value")
            c = text[i]
            if c == "\\":
                esc = text[i + 1:i + 2]
                if esc not in ("\\", '"', "n"):
                    raise Bad(f"line {lineno}: label {name}: bad escape \\{esc}")
                value.append("\n" if esc == "n" else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise Bad(f"line {lineno}: label {name}: raw newline")
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise Bad(f"line {lineno}: label {name} twice")
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise Bad(f"line {lineno}: expected , after label {name}")
            i += 1
            if i == len(text):
                raise Bad(f"line {lineno}: trailing comma")
    return labels


def parse_value(text, lineno):
    if text in ("NaN", "+Inf", "-Inf"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
        raise Bad(f"line {lineno}: bad value {text!r}")
    return float(text)


def parse(text):
    """The samples [(name, labels, value)] of a well-formed scrape."""
    if text and not text.endswith("\n"):
        raise Bad("the scrape does not end with a newline")
    helps, types, samples, seen = {}, {}, [], set()
    closed, current = set(), None  # families whose samples are over; the one being read

    def family_of(name):
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
                return base
        return name

    for lineno, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        if line != line.rstrip() or not line:
            raise Bad(f"line {lineno}: blank line or trailing white space")
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    raise Bad(f"line {lineno}: bad metric name {name!r}")
                table = helps if parts[1] == "HELP" else types
                if name in table:
                    raise Bad(f"line {lineno}: second # {parts[1]} for {name}")
                if name in closed or name == current:
                    raise Bad(f"line {lineno}: # {parts[1]} for {name} after its samples")
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise Bad(f"line {lineno}: bad type in {line!r}")
                    table[name] = parts[3]
                else:
                    table[name] = parts[3] if len(parts) == 4 else ""
            continue
        m = re.fullmatch(rf"({NAME})(?:\{{(.*)\}})? (\S+)(?: (-?\d+))?", line)
        if not m:
            raise Bad(f"line {lineno}: not a sample: {line!r}")
        name, labels = m.group(1), parse_labels(m.group(2) or "", lineno)
        value = parse_value(m.group(3), lineno)
        family = family_of(name)
        if family != current:
            if family in closed:
                raise Bad(f"line {lineno}: samples of {family} are not together")
            if current:
                closed.add(current)
            current = family
        kind = types.get(family, "untyped")
        if kind == "histogram":
            if name == family + "_bucket":
                if "le" not in labels:
                    raise Bad(f"line {lineno}: {name} without le")
                parse_value(labels["le"], lineno)
            elif name not in (family + "_sum", family + "_count"):
                raise Bad(f"line {lineno}: {name} in histogram {family}")
        if kind == "counter" and not (value >= 0):
            raise Bad(f"line {lineno}: counter {name} is {value}")
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise Bad(f"line {lineno}: {name}{labels} twice")
        seen.add(key)
        samples.append((name, labels, value))
    return samples


def matching(samples, name, filters):
    want = dict(f.split("=", 1) for f in filters)
    return [(n, l, v) for n, l, v in samples if n == name and all(l.get(k) == x for k, x in want.items())]


def main(argv):
    if not argv or argv[0] not in ("check", "sum", "series"):
        print(__doc__, file=sys.stderr)
        return 2
    text = sys.stdin.read()
    try:
        samples = parse(text)
    except Bad as e:
        print(f"malformed scrape: {e}", file=sys.stderr)
        return 1
    if argv[0] == "check":
        if not samples:
            print("malformed scrape: no samples", file=sys.stderr)
            return 1
        print(f"{len(samples)} samples")
    elif argv[0] == "sum":
        total = sum(v for _, _, v in matching(samples, argv[1], argv[2:]))
        print(int(total) if total == int(total) else total)
    else:
        for n, l, v in matching(samples, argv[1], argv[2:]):
            print(n + "{" + ",".join(f'{k}="{x}"' for k, x in l.items()) + "} " + repr(v))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
