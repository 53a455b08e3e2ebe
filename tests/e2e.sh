#!/bin/sh
# e2e.sh - run the built backbot binary the way people do, and check what
# they would see: answers with the right key words, JSON Lines, exit
# codes and clear messages for bad input and broken knowledge bases.
#
# usage: tests/e2e.sh PATH/TO/backbot      (from the repository root)
set -u
bin=${1:?usage: tests/e2e.sh PATH/TO/backbot}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect_status WANT DESCRIPTION COMMAND...: run, keep stdout/stderr.
expect_status() {
	want=$1 desc=$2
	shift 2
	checks=$((checks + 1))
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	[ "$got" -eq "$want" ] || fail "$desc: exit $got, want $want ($(head -c 300 "$tmp/err"))"
}

# expect_in FILE TEXT DESCRIPTION
expect_in() {
	checks=$((checks + 1))
	grep -qF -- "$2" "$1" || fail "$3: '$2' not in $(basename "$1"): $(head -c 300 "$1")"
}

json_field() { # json_field FILE LINE FIELD
	python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2])-1])[sys.argv[3]])' "$1" "$2" "$3"
}

# --- usage ---------------------------------------------------------------
expect_status 0 "--help" "$bin" --help
expect_in "$tmp/out" "usage: backbot" "--help"
expect_status 0 "--version" "$bin" --version
expect_in "$tmp/out" "backbot " "--version"
expect_status 1 "unknown command" "$bin" fly
expect_in "$tmp/err" "unknown command 'fly'" "unknown command"
expect_status 1 "unknown option" "$bin" --frobnicate
expect_status 2 "missing --kb folder" "$bin" --kb /nonexistent/kb ask hi
expect_in "$tmp/err" "/nonexistent/kb: no such folder" "missing --kb"

# --- ask -------------------------------------------------------------------
expect_status 0 "ask one question" "$bin" ask how do I crack my lower back
expect_in "$tmp/out" "seated" "ask how-to mentions the seated twist"
expect_status 0 "ask --json" "$bin" --json ask "is it safe to pop my own back"
checks=$((checks + 1))
[ "$(json_field "$tmp/out" 1 intent)" = crack.safety ] || fail "ask --json intent: $(cat "$tmp/out")"
expect_status 0 "--kb pointing at faq/" "$bin" --kb "$root/faq" ask hello
expect_status 1 "empty question" "$bin" ask ""
expect_in "$tmp/err" "empty question" "empty question message"

# Batch: one JSON line per input line, in order.
printf 'hello\nhow do I do child'"'"'s pose\nwhat is the capital of France\n' >"$tmp/in"
checks=$((checks + 1))
"$bin" --json ask <"$tmp/in" >"$tmp/out" 2>"$tmp/err" || fail "batch exit $?"
[ "$(wc -l <"$tmp/out")" -eq 3 ] || fail "batch: $(wc -l <"$tmp/out") lines for 3"
[ "$(json_field "$tmp/out" 1 intent)" = chat.greeting ] || fail "batch line 1"
[ "$(json_field "$tmp/out" 2 intent)" = technique.childs_pose ] || fail "batch line 2"
[ "$(json_field "$tmp/out" 3 intent)" = none ] || fail "batch line 3"

# Bad lines: answered in place with an error, told on stderr, exit 1.
{ printf 'hello\n\n   \n'; printf '\377\376 back\n'; head -c 1048576 /dev/zero | tr '\0' a; printf '\nthanks\n'; } >"$tmp/bad"
checks=$((checks + 1))
"$bin" --json ask <"$tmp/bad" >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" -eq 1 ] || fail "bad lines: exit $st, want 1"
[ "$(wc -l <"$tmp/out")" -eq 6 ] || fail "bad lines: $(wc -l <"$tmp/out") output lines for 6"
expect_in "$tmp/err" "line 2: empty question" "empty line"
expect_in "$tmp/err" "line 4: question is not valid UTF-8" "invalid UTF-8"
expect_in "$tmp/err" "line 5: question too long" "1 MB line"
[ "$(json_field "$tmp/out" 6 intent)" = chat.thanks ] || fail "line after the 1 MB line"

# Safety: triage leads, emergencies get no self-care advice.
expect_status 0 "emergency" "$bin" ask "no tingling but I've wet myself and my back is agony, what stretch helps"
expect_in "$tmp/out" "999" "emergency names the emergency number"
expect_in "$tmp/out" "emergency department" "emergency names the emergency department"

# --- chat (input not a terminal) --------------------------------------------
printf 'hello\ntopics\nhow do I do the knee to chest stretch\nquit\n' >"$tmp/in"
checks=$((checks + 1))
NO_COLOR=1 "$bin" chat <"$tmp/in" >"$tmp/out" 2>&1 || fail "chat exit $?"
expect_in "$tmp/out" "not a doctor" "chat welcome"
expect_in "$tmp/out" "Things you can ask me about" "chat topics"
expect_in "$tmp/out" "knee" "chat answer"
checks=$((checks + 1))
if grep -q "$(printf '\033')" "$tmp/out"; then fail "colour written to a pipe"; fi

# --- doctor ------------------------------------------------------------------
yes no | head -n 40 >"$tmp/no"
expect_status 0 "doctor all no" sh -c "'$bin' doctor <'$tmp/no'"
expect_in "$tmp/out" "no red flags" "doctor all no"
expect_in "$tmp/out" "What you told me" "doctor summary"
printf 'no\nyes\n' >"$tmp/in"
expect_status 0 "doctor bowel yes" sh -c "'$bin' --json doctor <'$tmp/in'"
checks=$((checks + 1))
[ "$(json_field "$tmp/out" 1 triage)" = emergency ] || fail "doctor json: $(cat "$tmp/out")"
printf 'no\n' >"$tmp/in"
expect_status 1 "doctor cut short" sh -c "'$bin' doctor <'$tmp/in'"
expect_in "$tmp/err" "ended before" "doctor cut short"

# --- check -------------------------------------------------------------------
expect_status 0 "check shipped knowledge base" "$bin" check
fresh_kb() {
	rm -rf "$tmp/kb"
	mkdir -p "$tmp/kb"
	cp -R "$root/faq" "$root/intents" "$tmp/kb/"
}
fresh_kb
printf '{"answers": [\n  {"intent": "x",\n' >"$tmp/kb/faq/zz-broken.json"
expect_status 2 "check malformed JSON" "$bin" --kb "$tmp/kb" check
expect_in "$tmp/err" "faq/zz-broken.json:3:1: invalid JSON" "malformed JSON position"
expect_status 2 "answering with a broken knowledge base" "$bin" --kb "$tmp/kb/faq" ask hi
expect_in "$tmp/err" "zz-broken.json" "answering with a broken knowledge base"
fresh_kb
printf '{"intents": [\n  {"id": "crack.safety.extra",\n   "patterns": ["(unclosed"]}\n]}\n' >"$tmp/kb/intents/zz-bad.json"
expect_status 2 "check bad regex" "$bin" --kb "$tmp/kb" check
expect_in "$tmp/err" "intents/zz-bad.json:3:" "bad regex position"
expect_in "$tmp/err" "missing closing parenthesis" "bad regex reason"
fresh_kb
printf '{"intents": [\n  {"id": "brand.new", "patterns": ["\\\\bzebra\\\\b"]}\n]}\n' >"$tmp/kb/intents/zz-noanswer.json"
expect_status 2 "check intent without answer" "$bin" --kb "$tmp/kb" check
expect_in "$tmp/err" "intent brand.new has no answer" "intent without answer"
fresh_kb
printf '{"intents": [\n  {"id": "resources.extra", "patterns": ["\\\\bzebra\\\\b"], "examples": ["how do I crack my back"]}\n]}\n' >"$tmp/kb/intents/zz-example.json"
expect_status 2 "check example mismatch" "$bin" --kb "$tmp/kb" check
expect_in "$tmp/err" "example \"how do I crack my back\" matches" "example mismatch"

# --- chat on a terminal: line editing (libedit, loaded when chat starts) ----
checks=$((checks + 1))
python3 tests/chat_tty.py "$bin" "is it safe to crack my back" "<up>" quit >"$tmp/tty" 2>&1
case $? in
0)
	n=$(grep -c "everyday stiffness" "$tmp/tty")
	[ "$n" -eq 2 ] || fail "chat: the up arrow should ask the last question again (answered $n times): $(tail -c 400 "$tmp/tty")" ;;
77) echo "e2e: skipped the terminal chat check: $(cat "$tmp/tty")" ;;
*) fail "chat on a terminal did not end at quit: $(tail -c 400 "$tmp/tty")" ;;
esac
# Batch runs never map the line editor: it is not linked (src/lineedit.h).
checks=$((checks + 1))
if ldd "$bin" 2>/dev/null | grep -q libedit; then
	fail "backbot links libedit; only chat should load it"
fi

# --- install -----------------------------------------------------------------
checks=$((checks + 1))
if make -s install B="$tmp/build" PREFIX="$tmp/prefix" >"$tmp/log" 2>&1; then
	(cd / && env -u BACKBOT_KB "$tmp/prefix/bin/backbot" ask "what is a spinal disc") >"$tmp/out" 2>&1 ||
	    fail "installed binary: $(cat "$tmp/out")"
	expect_in "$tmp/out" "nucleus" "installed binary finds its knowledge base"
else
	fail "make install: $(tail -5 "$tmp/log")"
fi

echo "e2e: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
