#!/bin/sh
# memcheck.sh - run a whole batch of questions through backbot under
# valgrind and fail on any leak or memory error.
#
# usage: tests/memcheck.sh PATH/TO/backbot [QUESTIONS-FILE]
# Without a questions file it uses the test tables (and the development
# set at ../shared/eval/dev.jsonl when it is there).
set -eu
bin=${1:?usage: tests/memcheck.sh PATH/TO/backbot [QUESTIONS-FILE]}
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A cache of its own, so that the check never writes to the user's.
export BACKBOT_CACHE_DIR="${BACKBOT_CACHE_DIR:-$tmp/cache}"
if [ $# -ge 2 ]; then
	cp "$2" "$tmp/q"
else
	grep -v '^#' tests/data/questions.tsv | cut -f1 | grep -v '^$' >"$tmp/q"
	grep -v '^#' tests/data/triage.tsv | cut -f2 | grep -v '^$' >>"$tmp/q"
	if [ -f ../shared/eval/dev.jsonl ]; then
		python3 -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["text"])' ../shared/eval/dev.jsonl >>"$tmp/q"
	fi
fi
n=$(wc -l <"$tmp/q")
# --undef-value-errors=no: PCRE2's JIT-compiled code reads memory in ways
# memcheck cannot follow and reports false "uninitialised value" errors
# from inside it.  Leaks, invalid reads and writes and bad frees are still
# errors here (and the sanitizer build covers the rest).
valgrind --quiet --undef-value-errors=no --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
    --error-exitcode=9 "$bin" --json ask <"$tmp/q" >"$tmp/out" 2>"$tmp/vg" || st=$?
st=${st:-0}
if [ "$st" -eq 9 ]; then
	cat "$tmp/vg" >&2
	echo "memcheck: valgrind found errors or leaks" >&2
	exit 1
fi
echo "memcheck: $n questions, $(wc -l <"$tmp/out") answers, no leaks or memory errors (exit $st)"
