"""scenarios.py - drive the real backbot binary against the test homeserver.

Usage: scenarios.py [--load] [--only NAME[,NAME..]] PATH/TO/backbot

Each scenario starts a fresh loopback test homeserver (fakehs.py, a test
double, not a real homeserver) and the real `backbot matrix` process, acts
out a conversation and checks what the bot sent: where, in reply to what,
in which shape, how often.  Every request and response is also checked
against the official Matrix schemas (spec.py) when they are available.
--load runs the load scenario instead (1,000 questions from 50 users in
20 rooms) and prints the bot's own time per message.
Exit status 0 when everything passed.
"""

import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import fakehs  # noqa: E402

try:
    import spec as specmod  # noqa: E402
    _spec_import_error = None
except ImportError as e:  # jsonschema or yaml missing
    specmod = None
    _spec_import_error = str(e)

BOT = "@backbot:localhost"
ALICE = "@alice:localhost"
BOB = "@bob:localhost"
CAROL = "@carol:localhost"



def bot_environment():
    """The bot's environment: ours without backbot's settings, which each
    scenario sets itself, but keeping the compiled-knowledge-base cache
    where `make test` put it (never the user's own cache)."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("BACKBOT_") or k == "BACKBOT_CACHE_DIR"}
    if "BACKBOT_CACHE_DIR" not in e:
        e["BACKBOT_CACHE_DIR"] = "off"
    return e

class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Env:
    """One scenario's world: a homeserver, a temp dir, bot processes."""

    def __init__(self, binary, spec):
        self.binary = binary
        self.spec = spec
        self.tmp = tempfile.mkdtemp(prefix="backbot-matrix-")
        self.token = "syt_TOPSECRET_" + secrets.token_hex(12)
        self.hs = fakehs.Homeserver(spec=spec).start()
        self.hs.add_user(BOT, token=self.token, device="BOTDEVICE",
                         displayname="Back Bot")
        for u in (ALICE, BOB, CAROL):
            self.hs.add_user(u, token="tok_" + u[1:6])
        self.procs = []
        self.logs = []
        self.secrets = [self.token]

    def config(self, **extra):
        cfg = {"homeserver": self.hs.base_url, "user_id": BOT,
               "access_token": self.token,
               "state_dir": os.path.join(self.tmp, "state"),
               "sync_timeout_ms": 2000, "backoff_initial_ms": 50,
               "backoff_max_ms": 400, "user_burst": 30, "room_burst": 30}
        cfg.update(extra)
        for k in [k for k, v in cfg.items() if v is None]:
            del cfg[k]
        return cfg

    def start_bot(self, cfg=None, env=None, args=None, wait=True):
        path = os.path.join(self.tmp, "matrix.json")
        if cfg is None:
            cfg = self.config()
        with open(path, "w") as f:
            json.dump(cfg, f)
        e = bot_environment()
        e["XDG_STATE_HOME"] = os.path.join(self.tmp, "xdg-state")
        e["XDG_CONFIG_HOME"] = os.path.join(self.tmp, "xdg-config")
        e.update(env or {})
        log = os.path.join(self.tmp, "bot-%d.log" % len(self.logs))
        cmd = [self.binary, "--kb", REPO, "matrix"]
        cmd += args if args is not None else ["--config", path, "--verbose"]
        before = self._since_syncs()
        p = subprocess.Popen(cmd, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT, env=e)
        self.procs.append(p)
        self.logs.append(log)
        if wait:
            ok = self.hs.wait_for(
                lambda: self._since_syncs_locked() > before
                or p.poll() is not None, 10)
            check(p.poll() is None,
                  "bot exited during start-up (%s):\n%s" %
                  (p.returncode, self.log()))
            check(ok, "bot never reached its long-poll sync:\n" + self.log())
        return p

    def _since_syncs_locked(self):
        return sum(1 for r in self.hs.requests
                   if r["path"].endswith("/sync") and "since" in r["query"])

    def _since_syncs(self):
        with self.hs.cond:
            return self._since_syncs_locked()

    def idle(self, extra=2):
        """Wait until the bot has polled again a couple of times, i.e. it
        has handled everything that was there."""
        n = self._since_syncs()
        ok = self.hs.wait_for(lambda: self._since_syncs_locked() >= n + extra,
                              15)
        check(ok, "bot stopped syncing:\n" + self.log())

    def stop_bot(self, p, sig=signal.SIGTERM, timeout=10):
        p.send_signal(sig)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Failure("bot did not exit within %ds of %s" %
                          (timeout, signal.Signals(sig).name))

    def log(self, i=-1):
        if not self.logs:
            return ""
        with open(self.logs[i], errors="replace") as f:
            return f.read()

    def all_logs(self):
        return "".join(self.log(i) for i in range(len(self.logs)))

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.hs.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- common checks -------------------------------------------------
    def finish_checks(self):
        logs = self.all_logs()
        for s in self.secrets:
            check(s not in logs, "a secret appears in the bot's log")
        for r in self.hs.requests:
            for s in self.secrets:
                check(s not in r["path"] and
                      s not in json.dumps(r["query"]),
                      "a secret appears in a request URL")
            if r["path"].startswith("/_matrix/client/v3/") and \
                    not r["path"].endswith("/login"):
                check(r["auth"].startswith("Bearer "),
                      "request without a Bearer token: " + r["path"])
        check(not self.hs.violations,
              "protocol/schema violations:\n  " +
              "\n  ".join(self.hs.violations[:20]))

    def bot_replies(self, room=None):
        return [s for s in self.hs.replies(room) if s["sender"] == BOT]

    def replies_to(self, event_id):
        out = []
        for s in self.bot_replies():
            rel = s["content"].get("m.relates_to", {})
            if rel.get("m.in_reply_to", {}).get("event_id") == event_id:
                out.append(s)
        return out

    def wait_reply(self, event_id, timeout=10):
        ok = self.hs.wait_for(lambda: any(
            s["sender"] == BOT and s["content"].get("m.relates_to", {})
            .get("m.in_reply_to", {}).get("event_id") == event_id
            for s in self.hs.sent), timeout)
        check(ok, "no reply to %s within %ss:\n%s" %
              (event_id, timeout, self.log()[-3000:]))
        r = self.replies_to(event_id)
        check(len(r) == 1, "%d replies to %s" % (len(r), event_id))
        return r[0]

    def log_line(self, event_id, timeout=5):
        """The bot's log line for a handled event (it is written just
        after the reply is sent, so wait a little)."""
        end = time.time() + timeout
        while True:
            for line in self.all_logs().splitlines():
                if "event=%s " % event_id in line and "action=reply" in line:
                    return line
            if time.time() > end:
                return None
            time.sleep(0.05)


def check_reply_shape(env, reply, question_id, asker, room, thread=None):
    c = reply["content"]
    check(reply["room_id"] == room, "reply went to the wrong room")
    check(reply["type"] == "m.room.message", "reply is not m.room.message")
    check(c.get("msgtype") == "m.notice", "reply is not an m.notice")
    check(isinstance(c.get("body"), str) and c["body"].strip(),
          "reply has no plain body")
    check(c.get("format") == "org.matrix.custom.html" and
          isinstance(c.get("formatted_body"), str) and c["formatted_body"],
          "reply has no HTML formatted_body")
    check(not c["body"].startswith("> "), "reply carries a reply fallback")
    check("<mx-reply>" not in c["formatted_body"],
          "reply carries an <mx-reply> fallback")
    rel = c.get("m.relates_to", {})
    check(rel.get("m.in_reply_to", {}).get("event_id") == question_id,
          "reply is not a rich reply to the question")
    if thread:
        check(rel.get("rel_type") == "m.thread" and
              rel.get("event_id") == thread,
              "reply left the question's thread")
    else:
        check("rel_type" not in rel, "unexpected relation type")
    check(asker in c.get("m.mentions", {}).get("user_ids", []),
          "reply does not mention the asker in m.mentions")
    line = env.log_line(question_id)
    check(line is not None, "no log line for " + question_id)
    check(re.search(r" intent=\S+ triage=(none|caution|routine|urgent|"
                    r"emergency) took_us=\d+", line),
          "log line lacks intent/triage/took_us: " + line)
    return line


# ---- scenarios -------------------------------------------------------

def sc_conversation(env):
    """History skipped; invite -> join -> reply shape; addressing rules."""
    hs = env.hs
    # A direct chat the bot is already in, with history.
    dm = hs.create_room(ALICE, members=(BOT,))
    old = hs.say(dm, ALICE, "how do I crack my lower back?")
    p = env.start_bot()
    env.idle()
    check(not env.replies_to(old), "answered history from before start-up")

    # Invited into a group room that already has history.
    room = hs.create_room(ALICE, members=(BOB,))
    hist = hs.say(room, BOB, "!back is it safe to crack my back?")
    hs.invite(room, ALICE, BOT)
    check(hs.wait_for(lambda: hs.rooms[room].members.get(BOT) == "join",
                      10), "bot did not join after the invite")
    env.idle()
    check(not env.replies_to(hist),
          "answered history from before its own join")

    # Mentioned through m.mentions.
    q1 = hs.say(room, BOB, "Back Bot: is it safe to crack my back?",
                mentions=[BOT])
    r1 = env.wait_reply(q1)
    check_reply_shape(env, r1, q1, BOB, room)
    check(r1["content"]["body"].startswith(BOB),
          "group reply does not name the asker")
    # Typing notice and read receipt for the question.
    check(hs.wait_for(lambda: any(t[0] == room and t[2].get("typing")
                                  for t in hs.typing), 5),
          "no typing notice")
    check(hs.wait_for(lambda: any(r[0] == room and r[2] == q1
                                  for r in hs.receipts), 5),
          "no read receipt for the question")

    # Not addressed in a group room: silence.
    q2 = hs.say(room, BOB, "is it safe to crack my back?")
    # Prefix command.
    q3 = hs.say(room, ALICE, "!back help")
    # Name in the text, no m.mentions (older clients).
    q4 = hs.say(room, ALICE, "backbot what is a spinal disc?")
    # Display name.
    q5 = hs.say(room, BOB, "hey Back Bot, how do I use a foam roller?")
    # Own-looking traffic the bot must never answer.
    hs.say(room, BOB, "!back this is a notice", msgtype="m.notice")
    hs.say(room, BOB, "* !back edited question", relates_to={
        "rel_type": "m.replace", "event_id": q2},
        extra={"m.new_content": {"msgtype": "m.text", "body": "!back x"}})
    img = hs.raw_event(room, {"type": "m.room.message", "sender": BOB,
                              "content": {"msgtype": "m.image",
                                          "body": "!back back.png",
                                          "url": "mxc://localhost/abc"}})
    for q, who in ((q3, ALICE), (q4, ALICE), (q5, BOB)):
        check_reply_shape(env, env.wait_reply(q), q, who, room)
    env.idle()
    check(not env.replies_to(q2), "answered a group message without a "
          "mention or the prefix")
    check(not env.replies_to(img), "answered an image")
    check(len(env.bot_replies(room)) == 4,
          "expected 4 replies in the group room, got %d" %
          len(env.bot_replies(room)))

    # Direct chat: everything is answered, even without a mention.
    q6 = hs.say(dm, ALICE, "what is the lumbar spine made of?")
    r6 = env.wait_reply(q6)
    check_reply_shape(env, r6, q6, ALICE, dm)

    # A question inside a thread is answered inside the thread.
    q7 = hs.say(room, BOB, "!back how often can I crack my back?",
                relates_to={"rel_type": "m.thread", "event_id": q1,
                            "is_falling_back": True,
                            "m.in_reply_to": {"event_id": q1}})
    check_reply_shape(env, env.wait_reply(q7), q7, BOB, room, thread=q1)

    # An emergency is led by emergency guidance, as in the terminal.
    q8 = hs.say(dm, ALICE, "I suddenly can't control my bladder and my "
                "groin is numb after my back pain started")
    r8 = env.wait_reply(q8)
    line = check_reply_shape(env, r8, q8, ALICE, dm)
    check("triage=emergency" in line,
          "a cauda equina question was not triaged as an emergency: " + line)
    check(re.search(r"emergency", r8["content"]["body"].split("\n")[0],
                    re.I) and re.search(r"999|911|112", r8["content"]["body"]),
          "the emergency guidance does not lead the reply")
    check(r8["content"]["formatted_body"].startswith("<p><strong>"),
          "the triage lead is not emphasised in HTML")

    # An oversized message and HTML in the question do no harm.
    big = hs.say(dm, ALICE, "!back " + "why does my back crack " * 4000)
    env.wait_reply(big)
    q9 = hs.say(dm, ALICE, "<script>alert(1)</script> is cracking bad?")
    r9 = env.wait_reply(q9)
    check("<script>" not in r9["content"]["formatted_body"],
          "user HTML leaked into formatted_body")
    check(p.poll() is None, "bot died")
    check(env.stop_bot(p) == 0, "bot did not exit 0 on SIGTERM")
    # The bot's own replies came back through sync and were not answered.
    for s in env.bot_replies():
        check(not env.replies_to(s["event_id"]), "bot answered itself")


def sc_restart(env):
    """Restart: no duplicates, nothing missed, no history."""
    hs = env.hs
    dm = hs.create_room(ALICE, members=(BOT,))
    p = env.start_bot()
    q1 = hs.say(dm, ALICE, "is it safe to crack my back?")
    env.wait_reply(q1)
    env.idle()
    t0 = time.time()
    check(env.stop_bot(p, signal.SIGINT) == 0, "SIGINT did not exit 0")
    check(time.time() - t0 < 5, "SIGINT took too long")
    state = os.path.join(env.tmp, "state", "matrix-state.json")
    check(os.path.exists(state), "no state file after SIGINT")
    check(oct(os.stat(state).st_mode & 0o777) == "0o600",
          "state file is not private")
    # Messages while the bot is away are answered after the restart.
    q2 = hs.say(dm, ALICE, "how do I do a seated twist?")
    q3 = hs.say(dm, ALICE, "what is a disc?")
    p = env.start_bot()
    env.wait_reply(q2)
    env.wait_reply(q3)
    env.idle()
    check(len(env.replies_to(q1)) == 1, "q1 answered again after restart")
    check(len(env.bot_replies()) == 3,
          "expected 3 replies, got %d" % len(env.bot_replies()))
    # SIGTERM during a slow request still exits 0 promptly.
    hs.add_fault("GET", r"/sync$", "slow", times=1, delay=3)
    env.idle(1)
    check(env.stop_bot(p) == 0, "SIGTERM did not exit 0")
    # A third start after a clean stop: still nothing repeated.
    p = env.start_bot()
    env.idle()
    check(len(env.bot_replies()) == 3, "replies repeated on restart")
    env.stop_bot(p)


def sc_crash(env):
    """Killed, or stopped, while a reply is in flight: after the restart
    the same transaction id is reused, so there is still one message."""
    hs = env.hs
    dm = hs.create_room(ALICE, members=(BOT,))
    for sig in (signal.SIGKILL, signal.SIGTERM):
        p = env.start_bot()
        # The server takes the send but answers slowly; the bot dies (or
        # is stopped) before it hears back.
        f = hs.add_fault("PUT", r"/send/", "slow", times=1, delay=1.5)
        q = hs.say(dm, ALICE, "what is the best sleeping position? (%s)" %
                   signal.Signals(sig).name)
        check(hs.wait_for(lambda: f.hits == 1, 10), "no send attempted")
        time.sleep(0.3)
        p.send_signal(sig)
        rc = p.wait(10)
        if sig == signal.SIGTERM:
            check(rc == 0, "SIGTERM during a send: exit %s, not 0" % rc)
        # Let the slow request complete on the server side.
        check(hs.wait_for(lambda: len(env.replies_to(q)) == 1, 5),
              "the interrupted send never arrived")
        p = env.start_bot()
        env.idle()
        check(len(env.replies_to(q)) == 1,
              "after %s and a restart the question was answered %d times"
              % (signal.Signals(sig).name, len(env.replies_to(q))))
        txn = env.replies_to(q)[0]["txn"]
        resent = [r for r in hs.requests
                  if "/send/" in r["path"] and r["segs"][-1] == txn]
        check(len(resent) >= 2, "the interrupted reply was not resent")
        sends = [r for r in hs.requests if "/send/" in r["path"]]
        check(len({r["segs"][-1] for r in sends}) == len(env.bot_replies()),
              "a resend used a new transaction id")
        env.stop_bot(p)


def sc_duplicates(env):
    """An event delivered twice is answered once."""
    hs = env.hs
    dm = hs.create_room(ALICE, members=(BOT,))
    p = env.start_bot()
    q = hs.say(dm, ALICE, "can cracking cause arthritis?")
    env.wait_reply(q)
    hs.redeliver(dm, q)
    env.idle()
    check(len(env.replies_to(q)) == 1, "a redelivered event was answered "
          "twice")
    env.stop_bot(p)


def sc_rate_limit(env):
    """429 on send: one message, after the wait."""
    hs = env.hs
    dm = hs.create_room(ALICE, members=(BOT,))
    p = env.start_bot()
    hs.add_fault("PUT", r"/send/", "429", times=1, retry_after_ms=1500)
    t0 = time.time()
    q = hs.say(dm, ALICE, "is it bad to crack my back every day?")
    r = env.wait_reply(q, timeout=15)
    check(r["time"] - t0 >= 1.4, "the bot did not wait for retry_after_ms "
          "(%.2fs)" % (r["time"] - t0))
    # The Retry-After header wins over the body.
    hs.add_fault("PUT", r"/send/", "429", times=1, retry_after=1,
                 retry_after_ms=20000)
    t0 = time.time()
    q2 = hs.say(dm, ALICE, "what is a foam roller?")
    r2 = env.wait_reply(q2, timeout=15)
    check(0.9 <= r2["time"] - t0 < 10, "Retry-After header not honoured "
          "(%.2fs)" % (r2["time"] - t0))
    # A send whose response is lost is retried with the same transaction
    # id: exactly one message.
    hs.add_fault("PUT", r"/send/", "drop_after", times=1)
    q3 = hs.say(dm, ALICE, "how do I lift safely?")
    env.wait_reply(q3)
    hs.add_fault("PUT", r"/send/", "500", times=2)
    q4 = hs.say(dm, ALICE, "how should I sleep?")
    env.wait_reply(q4)
    env.idle()
    check(len(env.bot_replies()) == 4, "expected exactly 4 messages, got %d"
          % len(env.bot_replies()))
    sends = [r for r in hs.requests if "/send/" in r["path"]]
    txns = {}
    for r in sends:
        txns.setdefault(r["segs"][-1], 0)
        txns[r["segs"][-1]] += 1
    check(max(txns.values()) >= 2, "no send was retried")
    env.stop_bot(p)


def sc_faults(env):
    """Sync faults: 500, drops, malformed JSON, slow replies; and the
    homeserver down for a while."""
    hs = env.hs
    dm = hs.create_room(ALICE, members=(BOT,))
    p = env.start_bot()
    faults = [hs.add_fault("GET", r"/sync$", "500", times=2),
              hs.add_fault("GET", r"/sync$", "drop", times=2),
              hs.add_fault("GET", r"/sync$", "malformed", times=1),
              hs.add_fault("GET", r"/sync$", "slow", times=1, delay=1.5)]
    # Wake the long poll so the faults are met now.
    hs.say(dm, BOT, "(bot's own message: wakes the sync)")
    check(hs.wait_for(lambda: all(f.times == 0 for f in faults), 20),
          "the bot stopped polling after a fault:\n" + env.log())
    q1 = hs.say(dm, ALICE, "why does my back crack so much?")
    env.wait_reply(q1, timeout=20)
    check("malformed JSON" in env.log(), "malformed JSON was not logged")
    check("server error 500" in env.log() and "network error" in env.log(),
          "sync faults were not logged")
    # Typing/receipt failures do not stop the answer.
    hs.add_fault("PUT", r"/typing/", "500", times=5)
    hs.add_fault("POST", r"/receipt/", "drop", times=2)
    q2 = hs.say(dm, ALICE, "what is child's pose?")
    env.wait_reply(q2, timeout=20)
    # Down for a while.
    hs.stop()
    time.sleep(3)
    check(p.poll() is None, "bot exited while the homeserver was down")
    q3 = hs.say(dm, ALICE, "how can I improve my posture?")
    hs.start()
    env.wait_reply(q3, timeout=20)
    check(len(env.bot_replies()) == 3, "duplicate or missing replies after "
          "faults: %d" % len(env.bot_replies()))
    check(env.stop_bot(p) == 0, "bot did not exit 0")


def sc_unknown_token(env):
    """M_UNKNOWN_TOKEN exits 3 with a clear message, token never shown."""
    hs = env.hs
    hs.create_room(ALICE, members=(BOT,))
    hs.revoke(env.token)
    p = env.start_bot(wait=False)
    rc = p.wait(15)
    out = env.log()
    check(rc == 3, "exit status %s, not 3, for a revoked token" % rc)
    check("M_UNKNOWN_TOKEN" in out and "access token" in out,
          "no clear message for a revoked token:\n" + out)
    # Revoked while running.
    hs.add_user(BOT, token=env.token, device="BOTDEVICE")
    p = env.start_bot()
    hs.add_fault("GET", r"/sync$", "unknown_token", times=1)
    rc = p.wait(15)
    check(rc == 3, "exit status %s, not 3, when the token dies mid-run"
          % rc)


def sc_config(env):
    """Bad settings are named, exit 2."""
    cases = [
        ({}, {}, "homeserver"),
        ({"homeserver": env.hs.base_url}, {}, "access_token"),
        (None, {}, "invalid JSON"),
        ({"homeserver": env.hs.base_url, "acess_token": "x"}, {},
         "unknown setting"),
        ({"homeserver": env.hs.base_url, "access_token": "x",
          "sync_timeout_ms": "soon"}, {}, "sync_timeout_ms"),
        ({"homeserver": "http://example.org", "access_token": env.token},
         {}, "allow_http"),
        ({"user_id": "backbot"}, {"BACKBOT_HOMESERVER": env.hs.base_url,
                                  "BACKBOT_ACCESS_TOKEN": env.token},
         "user_id"),
    ]
    for cfg, e, want in cases:
        path = os.path.join(env.tmp, "bad.json")
        with open(path, "w") as f:
            f.write('{"homeserver": ' if cfg is None else json.dumps(cfg))
        env.logs.append(os.path.join(env.tmp, "cfg-%d.log" % len(env.logs)))
        ee = bot_environment()
        ee.update(e)
        ee["XDG_STATE_HOME"] = os.path.join(env.tmp, "xdg")
        with open(env.logs[-1], "w") as out:
            rc = subprocess.call([env.binary, "--kb", REPO, "matrix",
                                  "--config", path], stdout=out,
                                 stderr=subprocess.STDOUT, env=ee,
                                 timeout=20)
        text = env.log()
        check(rc == 2, "config %r: exit %s, not 2:\n%s" % (cfg, rc, text))
        check(want in text, "config %r: message does not name %r:\n%s" %
              (cfg, want, text))
    # Environment alone is enough (no config file at the default path).
    p = env.start_bot(args=["--quiet"], env={
        "BACKBOT_HOMESERVER": env.hs.base_url,
        "BACKBOT_ACCESS_TOKEN": env.token})
    check(env.stop_bot(p) == 0, "env-only start did not exit 0")
    check(env.log().strip() == "", "--quiet still logged:\n" + env.log())


def sc_login(env):
    """.well-known discovery and a one-time password login."""
    hs = env.hs
    pw = "pw-" + secrets.token_hex(8)
    env.secrets.append(pw)
    hs.add_user(BOT, password=pw, displayname="Back Bot")
    dm = hs.create_room(ALICE, members=(BOT,))
    cfg = env.config(access_token=None,
                     homeserver="127.0.0.1:%d" % hs.port, allow_http=True)
    p = env.start_bot(cfg, env={"BACKBOT_PASSWORD": pw})
    check(any(r["path"] == "/.well-known/matrix/client"
              for r in hs.requests), "no .well-known discovery")
    check(any(r["path"].endswith("/login") and r["method"] == "GET"
              for r in hs.requests), "did not check GET /login first")
    sess = os.path.join(env.tmp, "state", "matrix-session.json")
    check(os.path.exists(sess), "token not stored")
    check(oct(os.stat(sess).st_mode & 0o777) == "0o600",
          "session file is not private")
    with open(sess) as f:
        env.secrets.append(json.load(f)["access_token"])
    q = hs.say(dm, ALICE, "what is cavitation?")
    env.wait_reply(q)
    env.stop_bot(p)
    p = env.start_bot(cfg, env={"BACKBOT_PASSWORD": pw})
    logins = [r for r in hs.requests
              if r["path"].endswith("/login") and r["method"] == "POST"]
    check(len(logins) == 1, "logged in again instead of reusing the token")
    env.stop_bot(p)
    # No password login offered: a clear error.
    os.unlink(sess)
    hs.login_flows = ["m.login.sso"]
    p = env.start_bot(cfg, env={"BACKBOT_PASSWORD": pw}, wait=False)
    rc = p.wait(15)
    check(rc != 0 and "password login" in env.log(),
          "no clear error when password login is not offered")


def sc_encrypted(env):
    """An encrypted room gets one notice, and no pretending."""
    hs = env.hs
    p = env.start_bot()
    room = hs.create_room(ALICE, members=(BOB,), encrypted=True)
    hs.invite(room, ALICE, BOT)
    check(hs.wait_for(lambda: len(env.bot_replies(room)) >= 1, 10),
          "no notice in the encrypted room")
    hs.raw_event(room, {"type": "m.room.encrypted", "sender": ALICE,
                        "content": {"algorithm": "m.megolm.v1.aes-sha2",
                                    "ciphertext": "AAAA",
                                    "session_id": "s", "device_id": "D",
                                    "sender_key": "k"}})
    env.idle()
    env.stop_bot(p)
    p = env.start_bot()
    hs.raw_event(room, {"type": "m.room.encrypted", "sender": BOB,
                        "content": {"algorithm": "m.megolm.v1.aes-sha2",
                                    "ciphertext": "BBBB",
                                    "session_id": "s", "device_id": "D",
                                    "sender_key": "k"}})
    env.idle()
    n = env.bot_replies(room)
    check(len(n) == 1, "%d notices in the encrypted room, not 1" % len(n))
    check("encrypt" in n[0]["content"]["body"],
          "the notice does not say why")
    env.stop_bot(p)


def sc_invites(env):
    """Invites only from the allow-list."""
    hs = env.hs
    p = env.start_bot(env.config(allow_invites_from=[ALICE]))
    good = hs.create_room(ALICE)
    bad = hs.create_room(BOB)
    hs.invite(bad, BOB, BOT)
    hs.invite(good, ALICE, BOT)
    check(hs.wait_for(lambda: hs.rooms[good].members.get(BOT) == "join",
                      10), "did not join on an allowed invite")
    check(hs.wait_for(lambda: hs.rooms[bad].members.get(BOT) == "leave",
                      10), "did not decline an invite from a stranger")
    env.stop_bot(p)


def sc_doctor(env):
    """`!back doctor` to the end, one question per message."""
    hs = env.hs
    room = hs.create_room(ALICE, members=(BOB, BOT))
    p = env.start_bot()
    q = hs.say(room, ALICE, "!back doctor")
    r = env.wait_reply(q)
    body = r["content"]["body"]
    check("Question 1 of" in body, "doctor check did not ask question 1:\n"
          + body)
    total = int(re.search(r"Question 1 of (\d+)", body).group(1))
    # Someone else's "no" is not an answer for Alice.
    other = hs.say(room, BOB, "no")
    env.idle()
    check(not env.replies_to(other), "took another user's reply as an "
          "answer")
    last = None
    for i in range(total):
        a = hs.say(room, ALICE, "no")
        last = env.wait_reply(a)["content"]["body"]
        if i + 1 < total:
            check("Question %d of %d" % (i + 2, total) in last,
                  "question %d missing:\n%s" % (i + 2, last))
    check("Result" in last, "the check did not end with a result:\n" + last)
    # The session is over: a plain "no" is silence again.
    after = hs.say(room, ALICE, "no")
    env.idle()
    check(not env.replies_to(after), "session did not end")
    # A stop command ends a check early.
    s = hs.say(room, BOB, "!back doctor")
    env.wait_reply(s)
    st = hs.say(room, BOB, "!back stop")
    check("stopped" in env.wait_reply(st)["content"]["body"],
          "stop did not stop")
    env.stop_bot(p)


def sc_flood(env):
    """A spammer cannot make the bot flood the room."""
    hs = env.hs
    dm = hs.create_room(ALICE, members=(BOT,))
    p = env.start_bot(env.config(user_burst=3, user_per_minute=2))
    for i in range(20):
        hs.say(dm, ALICE, "is it safe to crack my back? %d" % i)
    env.idle(3)
    n = len(env.bot_replies(dm))
    check(1 <= n <= 4, "flood limit let %d replies through" % n)
    check("flood-limited" in env.log(), "flood limiting not logged")
    env.stop_bot(p)


SCENARIOS = [
    ("conversation", sc_conversation),
    ("restart", sc_restart),
    ("crash", sc_crash),
    ("duplicates", sc_duplicates),
    ("rate_limit", sc_rate_limit),
    ("faults", sc_faults),
    ("unknown_token", sc_unknown_token),
    ("config", sc_config),
    ("login", sc_login),
    ("encrypted", sc_encrypted),
    ("invites", sc_invites),
    ("doctor", sc_doctor),
    ("flood", sc_flood),
]


# ---- load -------------------------------------------------------------

LOAD_QUESTIONS = [
    "how do I crack my lower back safely?",
    "is it bad to crack my back every day?",
    "why does my back crack when I stretch?",
    "can cracking my back cause arthritis?",
    "what is the popping sound in my back?",
    "how do I do a seated spinal twist at my desk?",
    "is child's pose good for lower back stiffness?",
    "how do I use a foam roller on my back?",
    "should I crack my back if I have a herniated disc?",
    "I'm pregnant, can I stretch my lower back?",
    "I take warfarin, is back cracking ok?",
    "my back has hurt for six weeks and is not getting better",
    "what are the bones in the lumbar spine?",
    "what does a spinal disc do?",
    "how often should I get up when sitting all day?",
    "what core exercises help the lower back?",
    "how should I lift heavy boxes?",
    "what is the best sleeping position for back pain?",
    "does stress make my back tight?",
    "is foam rolling better than stretching?",
    "when should I see a doctor about back pain?",
    "I have numbness in my groin and can't control my bladder",
    "thanks!",
    "hello there",
    "can you crack my neck?",
]


def run_load(binary, spec, n_questions=1000, n_users=50, n_rooms=20):
    env = Env(binary, spec)
    try:
        hs = env.hs
        users = ["@user%02d:localhost" % i for i in range(n_users)]
        for u in users:
            hs.add_user(u)
        rooms = []
        for r in range(n_rooms):
            members = [u for i, u in enumerate(users) if i % n_rooms == r or
                       (i + 7) % n_rooms == r or (i + 13) % n_rooms == r]
            rooms.append((hs.create_room(members[0],
                                         members=tuple(members[1:]) + (BOT,)),
                          members))
        cfg = env.config(room_burst=1e5, room_per_minute=1e6,
                         user_burst=1e5, user_per_minute=1e6,
                         sync_timeout_ms=5000)
        p = env.start_bot(cfg)
        asked = {}
        t0 = time.time()
        for i in range(n_questions):
            room, members = rooms[i % n_rooms]
            user = members[(i // n_rooms) % len(members)]
            q = LOAD_QUESTIONS[i % len(LOAD_QUESTIONS)]
            eid = hs.say(room, user, "!back " + q)
            asked[eid] = (room, user)
            if i % 100 == 99:
                time.sleep(0.05)
        ok = hs.wait_for(lambda: sum(1 for s in hs.sent
                                     if s["sender"] == BOT) >= n_questions,
                         120)
        wall = time.time() - t0
        env.idle()
        replies = env.bot_replies()
        check(ok, "only %d of %d questions answered" % (len(replies),
                                                        n_questions))
        seen = {}
        for s in replies:
            to = s["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
            check(to in asked, "reply to an unknown event")
            check(s["room_id"] == asked[to][0], "reply in the wrong room")
            check(asked[to][1] in s["content"]["m.mentions"]["user_ids"],
                  "reply mentions the wrong user")
            seen[to] = seen.get(to, 0) + 1
        dups = [k for k, v in seen.items() if v > 1]
        check(not dups, "%d questions answered more than once" % len(dups))
        check(len(seen) == n_questions, "%d questions unanswered" %
              (n_questions - len(seen)))
        check(env.stop_bot(p) == 0, "bot did not exit 0")
        env.finish_checks()
        took = [int(m) for m in re.findall(r" took_us=(\d+)", env.log())]
        check(len(took) >= n_questions, "took_us missing from the log")
        took.sort()
        print("load: %d questions, %d users, %d rooms: all answered once, "
              "right room and event, no duplicates" %
              (n_questions, n_users, n_rooms))
        print("load: wall time %.1f s (%.0f replies/s through the test "
              "homeserver)" % (wall, n_questions / wall))
        print("bench: bot time per message (excluding network): "
              "mean %.0f us, median %d us, p95 %d us, max %d us" %
              (statistics.mean(took), took[len(took) // 2],
               took[int(len(took) * 0.95)], took[-1]))
        return 0
    finally:
        env.close()


def main(argv):
    load = False
    only = None
    args = []
    i = 1
    while i < len(argv):
        if argv[i] == "--load":
            load = True
        elif argv[i] == "--only":
            i += 1
            only = set(argv[i].split(","))
        else:
            args.append(argv[i])
        i += 1
    if len(args) != 1:
        print("usage: tests/matrix/run [--load] [--only NAME,...] "
              "PATH/TO/backbot", file=sys.stderr)
        return 2
    binary = os.path.abspath(args[0])
    if not os.access(binary, os.X_OK):
        print("tests/matrix/run: %s is not an executable" % binary,
              file=sys.stderr)
        return 2
    spec = None
    sdir = None
    if specmod is not None:
        sdir = specmod.spec_dir(REPO)
        spec = specmod.Spec.load(sdir)
    if spec is None:
        print("SKIP schema checks: %s" % (
            "Matrix spec not found in %s (set MATRIX_SPEC_DIR)" % sdir
            if specmod is not None else
            "python modules missing: %s" % _spec_import_error))
    else:
        print("schema checks: on (%s)" % sdir)
    if load:
        try:
            return run_load(binary, spec)
        except Failure as e:
            print("FAIL load: %s" % e)
            return 1
    failed = 0
    t_all = time.time()
    for name, fn in SCENARIOS:
        if only and name not in only:
            continue
        env = Env(binary, spec)
        t0 = time.time()
        try:
            fn(env)
            env.finish_checks()
            print("ok   %-14s %5.1fs" % (name, time.time() - t0))
        except Failure as e:
            failed += 1
            print("FAIL %-14s %s" % (name, e))
            if os.environ.get("MATRIX_TEST_VERBOSE"):
                print("---- bot log ----\n" + env.all_logs()[-6000:])
        except Exception:
            failed += 1
            print("FAIL %-14s crashed:\n%s" % (name, traceback.format_exc()))
        finally:
            env.close()
    print("%d scenario(s) failed" % failed if failed else
          "all Matrix scenarios passed (%.1fs)" % (time.time() - t_all))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
