"""fakehs.py - a loopback TEST DOUBLE of a Matrix homeserver.

This is not a homeserver.  It is a small in-memory imitation of the parts
of the Matrix Client-Server API (v3) that backbot uses, written for the
test suite because no real homeserver (Synapse, Conduit, Dendrite) is
packaged for Debian.  It listens on 127.0.0.1 only, speaks plain HTTP,
keeps everything in memory and forgets it on exit.

Endpoints: /.well-known/matrix/client, /versions, GET+POST /login,
/account/whoami, /sync (long-poll, inline filters), /rooms/{id}/join,
/join/{idOrAlias}, /rooms/{id}/leave, /rooms/{id}/send/{type}/{txn}
(transaction ids honoured per access token), /rooms/{id}/typing/{user},
/rooms/{id}/receipt/{type}/{event}.

Every JSON request body and every JSON response it serves is checked
against the official schemas (spec.py) when they are available; problems
are collected in Homeserver.violations for the scenarios to assert on.
Faults can be injected per endpoint: 429 with retry_after_ms (and
optionally a Retry-After header), 500, dropped connections (before
or after the request took effect), slow responses, malformed JSON and
M_UNKNOWN_TOKEN; stop()/start() takes the
whole server down and back up on the same port.
"""

import json
import random
import re
import socket
import string
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER_NAME = "localhost"


def _rand(n=12, alphabet=string.ascii_letters + string.digits):
    return "".join(random.choice(alphabet) for _ in range(n))


class Fault:
    def __init__(self, method, pattern, kind, times=1, **params):
        self.method = method
        self.regex = re.compile(pattern)
        self.kind = kind
        self.times = times
        self.params = params
        self.hits = 0


class Room:
    def __init__(self, room_id):
        self.room_id = room_id
        self.events = []        # (pos, event) in stream order
        self.members = {}       # user_id -> membership
        self.names = {}         # user_id -> displayname
        self.encrypted = False
        self.state = {}         # (type, state_key) -> event


class Homeserver:
    """The in-memory server state.  Every public method takes the lock."""

    def __init__(self, spec=None, port=0):
        self.spec = spec
        self.cond = threading.Condition()
        self.pos = 0
        self.users = {}         # user_id -> {"password":..}
        self.tokens = {}        # token -> (user_id, device_id)
        self.rooms = {}
        self.invites = []       # (pos, room_id, user_id, inviter)
        self.txns = {}          # (token, txn) -> event_id
        self.sent = []          # messages sent by clients through /send
        self.requests = []      # every request seen
        self.violations = []
        self.faults = []
        self.typing = []
        self.receipts = []
        self.login_flows = ["m.login.password"]
        self.sync_count = 0
        self.generation = 0     # bumped by stop() to drop in-flight polls
        self.httpd = None
        self.thread = None
        self.port = port
        self.down = False

    # ---- lifecycle -------------------------------------------------
    def start(self):
        hs = self

        class Handler(_Handler):
            server_state = hs

        httpd = _Server(("127.0.0.1", self.port), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self.httpd = httpd
        with self.cond:
            self.down = False
        self.thread = threading.Thread(target=httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Take the server down: refuse connections, drop long polls."""
        with self.cond:
            self.down = True
            self.generation += 1
            self.cond.notify_all()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    # ---- set-up helpers for scenarios -----------------------------
    def add_user(self, user_id, password=None, token=None, device=None,
                 displayname=None):
        with self.cond:
            self.users[user_id] = {"password": password,
                                   "displayname": displayname}
            if token:
                self.tokens[token] = (user_id, device or "DEV" + _rand(6))

    def revoke(self, token):
        with self.cond:
            self.tokens.pop(token, None)

    def _new_event_id(self):
        # Real event ids can hold '/' and '+': make the bot escape them.
        return "$" + _rand(10) + random.choice("/+") + _rand(10)

    def _append(self, room, event):
        self.pos += 1
        event.setdefault("event_id", self._new_event_id())
        event.setdefault("origin_server_ts", int(time.time() * 1000))
        event.setdefault("unsigned", {})
        room.events.append((self.pos, event))
        if "state_key" in event:
            room.state[(event["type"], event["state_key"])] = event
            if event["type"] == "m.room.member":
                m = event["content"].get("membership")
                room.members[event["state_key"]] = m
                if "displayname" in event["content"]:
                    room.names[event["state_key"]] = \
                        event["content"]["displayname"]
            if event["type"] == "m.room.encryption":
                room.encrypted = True
        self.cond.notify_all()
        return event

    def create_room(self, creator, members=(), encrypted=False, name=None):
        with self.cond:
            room_id = "!" + _rand(8) + ":" + SERVER_NAME
            room = Room(room_id)
            self.rooms[room_id] = room
            self._append(room, {"type": "m.room.create", "state_key": "",
                                "sender": creator,
                                "content": {"room_version": "11"}})
            for u in (creator,) + tuple(members):
                self._append(room, self._member_event(u, u, "join"))
            if name:
                self._append(room, {"type": "m.room.name", "state_key": "",
                                    "sender": creator,
                                    "content": {"name": name}})
            if encrypted:
                self._append(room, {
                    "type": "m.room.encryption", "state_key": "",
                    "sender": creator,
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
            return room_id

    def _member_event(self, sender, user, membership, name=None):
        content = {"membership": membership}
        dn = name or self.users.get(user, {}).get("displayname") or \
            user[1:].split(":")[0]
        if membership == "join":
            content["displayname"] = dn
        return {"type": "m.room.member", "state_key": user, "sender": sender,
                "content": content}

    def join(self, room_id, user):
        with self.cond:
            self._append(self.rooms[room_id],
                         self._member_event(user, user, "join"))

    def invite(self, room_id, inviter, user):
        with self.cond:
            room = self.rooms[room_id]
            self._append(room, self._member_event(inviter, user, "invite"))
            self.invites.append((self.pos, room_id, user, inviter))
            self.cond.notify_all()

    def say(self, room_id, sender, body, msgtype="m.text", mentions=None,
            relates_to=None, extra=None):
        """Post a message as 'sender'; returns its event id."""
        content = {"msgtype": msgtype, "body": body}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": list(mentions)}
        if relates_to is not None:
            content["m.relates_to"] = relates_to
        if extra:
            content.update(extra)
        with self.cond:
            ev = self._append(self.rooms[room_id], {
                "type": "m.room.message", "sender": sender,
                "content": content})
            return ev["event_id"]

    def raw_event(self, room_id, event):
        with self.cond:
            return self._append(self.rooms[room_id], event)["event_id"]

    def redeliver(self, room_id, event_id):
        """Deliver an already-sent event again (as servers sometimes do)."""
        with self.cond:
            room = self.rooms[room_id]
            for _, ev in room.events:
                if ev["event_id"] == event_id:
                    self.pos += 1
                    room.events.append((self.pos, ev))
                    self.cond.notify_all()
                    return
            raise KeyError(event_id)

    def add_fault(self, method, pattern, kind, times=1, **params):
        with self.cond:
            f = Fault(method, pattern, kind, times, **params)
            self.faults.append(f)
            return f

    def replies(self, room_id=None):
        with self.cond:
            return [s for s in self.sent
                    if room_id is None or s["room_id"] == room_id]

    def wait_for(self, predicate, timeout=10.0):
        """Wait until predicate() (called under the lock) is true."""
        end = time.time() + timeout
        with self.cond:
            while True:
                if predicate():
                    return True
                left = end - time.time()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.2))

    def violation(self, text):
        with self.cond:
            self.violations.append(text)

    # ---- the API ---------------------------------------------------
    def take_fault(self, method, path):
        with self.cond:
            for f in self.faults:
                if f.times > 0 and (f.method in (None, method)) and \
                        f.regex.search(path):
                    f.times -= 1
                    f.hits += 1
                    return f
        return None

    def sync(self, user, token, query):
        """Build a /sync response for 'user'.  Returns (status, body)."""
        since = query.get("since")
        timeout = query.get("timeout")
        filt = query.get("filter")
        if timeout is None:
            self.violation("sync without an explicit timeout")
            timeout_ms = 0
        else:
            try:
                timeout_ms = int(timeout)
            except ValueError:
                return 400, {"errcode": "M_INVALID_PARAM",
                             "error": "bad timeout"}
        limit, types = 10, None
        if filt is None:
            self.violation("sync without a filter (the bot should ask "
                           "only for what it uses)")
        else:
            if filt.startswith("{"):
                try:
                    f = json.loads(filt)
                except ValueError:
                    self.violation("sync filter is not JSON")
                    f = {}
                if self.spec is not None:
                    for e in self.spec.check_definition(
                            "definitions/sync_filter.yaml", f, "sync filter"):
                        self.violation(e)
                tl = f.get("room", {}).get("timeline", {})
                limit = tl.get("limit", limit)
                types = tl.get("types")
            else:
                self.violation("sync uses a filter id the test server "
                               "never issued: %r" % filt)
        if since is not None:
            if not re.match(r"^s\d+$", since):
                return 400, {"errcode": "M_INVALID_PARAM",
                             "error": "bad since token"}
            since_pos = int(since[1:])
        else:
            since_pos = None
        gen = self.generation
        end = time.time() + min(timeout_ms, 60000) / 1000.0
        with self.cond:
            self.sync_count += 1
            while since_pos is not None and self.pos <= since_pos:
                left = end - time.time()
                if left <= 0 or self.generation != gen:
                    break
                self.cond.wait(min(left, 0.2))
            if self.generation != gen:
                return None, None   # server went down: drop the request
            return 200, self._build_sync(user, since_pos, limit, types)

    def _build_sync(self, user, since_pos, limit, types):
        join, invite = {}, {}
        for room in self.rooms.values():
            if room.members.get(user) != "join":
                continue
            my_join = max((p for p, e in room.events
                           if e["type"] == "m.room.member"
                           and e.get("state_key") == user
                           and e["content"].get("membership") == "join"),
                          default=0)
            fresh = since_pos is None or my_join > since_pos
            if fresh:
                # Like a real server: recent history, including what came
                # before our join.
                evs = [(p, e) for p, e in room.events]
            else:
                evs = [(p, e) for p, e in room.events if p > since_pos]
            if types is not None:
                evs = [(p, e) for p, e in evs if e["type"] in types]
            if not evs and not fresh:
                continue
            limited = len(evs) > limit
            evs = evs[-limit:] if limit > 0 else []
            timeline_ids = {e["event_id"] for _, e in evs}
            state = []
            if fresh:
                state = [self._strip_room(e) for e in room.state.values()
                         if e["event_id"] not in timeline_ids]
            joined = sum(1 for m in room.members.values() if m == "join")
            invited = sum(1 for m in room.members.values() if m == "invite")
            join[room.room_id] = {
                "timeline": {"events": [self._strip_room(e) for _, e in evs],
                             "limited": limited,
                             "prev_batch": "p%d" % (evs[0][0] if evs
                                                    else self.pos)},
                "state": {"events": state},
                "summary": {"m.joined_member_count": joined,
                            "m.invited_member_count": invited},
                "ephemeral": {"events": []},
                "account_data": {"events": []},
            }
        for p, room_id, u, inviter in self.invites:
            if u != user or (since_pos is not None and p <= since_pos):
                continue
            room = self.rooms[room_id]
            if room.members.get(user) != "invite":
                continue
            st = [{"type": "m.room.member", "state_key": user,
                   "sender": inviter,
                   "content": {"membership": "invite"}}]
            for (t, sk), e in room.state.items():
                if t in ("m.room.name", "m.room.encryption", "m.room.create"):
                    st.append({"type": t, "state_key": sk,
                               "sender": e["sender"],
                               "content": e["content"]})
            invite[room_id] = {"invite_state": {"events": st}}
        rooms = {}
        if join:
            rooms["join"] = join
        if invite:
            rooms["invite"] = invite
        body = {"next_batch": "s%d" % self.pos}
        if rooms:
            body["rooms"] = rooms
        return body

    @staticmethod
    def _strip_room(e):
        return {k: v for k, v in e.items() if k != "room_id"}

    def send(self, user, token, room_id, etype, txn, content):
        with self.cond:
            room = self.rooms.get(room_id)
            if room is None or room.members.get(user) != "join":
                return 403, {"errcode": "M_FORBIDDEN",
                             "error": "not in the room"}
            key = (token, txn)
            if key in self.txns:
                return 200, {"event_id": self.txns[key]}
            ev = self._append(room, {"type": etype, "sender": user,
                                     "content": content})
            self.txns[key] = ev["event_id"]
            self.sent.append({"room_id": room_id, "txn": txn,
                              "event_id": ev["event_id"], "sender": user,
                              "type": etype, "content": content,
                              "time": time.time()})
            self.cond.notify_all()
            return 200, {"event_id": ev["event_id"]}

    def do_join(self, user, room_id):
        with self.cond:
            room = self.rooms.get(room_id)
            if room is None:
                return 404, {"errcode": "M_NOT_FOUND", "error": "no room"}
            if room.members.get(user) not in ("invite", "join"):
                return 403, {"errcode": "M_FORBIDDEN",
                             "error": "not invited"}
            if room.members.get(user) != "join":
                self._append(room, self._member_event(user, user, "join"))
            return 200, {"room_id": room_id}

    def do_leave(self, user, room_id):
        with self.cond:
            room = self.rooms.get(room_id)
            if room is None:
                return 404, {"errcode": "M_NOT_FOUND", "error": "no room"}
            self._append(room, {"type": "m.room.member", "state_key": user,
                                "sender": user,
                                "content": {"membership": "leave"}})
            return 200, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client closing its connection (the bot being stopped) is not
        # a test failure; anything else is printed as usual.
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state = None  # set by Homeserver.start
    wbufsize = -1  # one write per response (flushed by the base class)

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _reply(self, status, body, raw=None, headers=None):
        hs = self.server_state
        if getattr(self, "_drop_after", False):
            # The request took effect; only the response is lost.
            self._drop_after = False
            return self._drop()
        if raw is None:
            data = json.dumps(body).encode()
            if hs.spec is not None:
                for e in hs.spec.check_response(self.command, self._path,
                                                status, body):
                    hs.violation("served " + e)
        else:
            data = raw
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        hs = self.server_state
        url = urllib.parse.urlsplit(self.path)
        # Decode each segment on its own: an unescaped '/' in an event id
        # would split it and miss the route, as on a real server.
        segs = [urllib.parse.unquote(s) for s in url.path.split("/")]
        self._path = url.path
        query = dict(urllib.parse.parse_qsl(url.query,
                                            keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                hs.violation("%s %s: request body is not JSON" %
                             (method, url.path))
        auth = self.headers.get("Authorization", "")
        with hs.cond:
            hs.requests.append({"method": method, "path": url.path,
                                "segs": segs, "query": query, "body": body,
                                "auth": auth, "time": time.time()})
        if "access_token" in query:
            hs.violation("access token sent in a query string")
        if hs.down:
            return self._drop()
        if hs.spec is not None:
            if not hs.spec.known(method, url.path):
                hs.violation("%s %s: unknown endpoint" % (method, url.path))
            elif body is not None or method in ("POST", "PUT"):
                for e in hs.spec.check_request(method, url.path,
                                               body if body is not None
                                               else {}):
                    hs.violation(e)

        fault = hs.take_fault(method, url.path)
        if fault is not None:
            k = fault.kind
            if k == "drop":
                return self._drop()
            if k == "drop_after":
                self._drop_after = True
            if k == "slow":
                time.sleep(fault.params.get("delay", 2.0))
            elif k == "429":
                hdr = {}
                if "retry_after" in fault.params:
                    hdr["Retry-After"] = str(fault.params["retry_after"])
                body429 = {"errcode": "M_LIMIT_EXCEEDED",
                           "error": "Too many requests"}
                if "retry_after_ms" in fault.params:
                    body429["retry_after_ms"] = fault.params["retry_after_ms"]
                return self._reply(429, body429, headers=hdr)
            elif k == "500":
                return self._reply(500, {"errcode": "M_UNKNOWN",
                                         "error": "Internal server error"})
            elif k == "malformed":
                return self._reply(200, None,
                                   raw=b'{"next_batch": "s1", "rooms": {[')
            elif k == "unknown_token":
                return self._reply(401, {"errcode": "M_UNKNOWN_TOKEN",
                                         "error": "Unknown access token",
                                         "soft_logout": False})

        try:
            self._route(method, segs, query, body, auth)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method, segs, query, body, auth):
        hs = self.server_state
        p = segs[1:]  # drop the empty segment before the first '/'
        if p[:3] == [".well-known", "matrix", "client"] and method == "GET":
            return self._reply(200, {"m.homeserver":
                                     {"base_url": hs.base_url + "/"}})
        if p[:3] == ["_matrix", "client", "versions"] and method == "GET":
            return self._reply(200, {"versions": ["v1.11", "v1.12", "v1.13",
                                                  "v1.19"],
                                     "unstable_features": {}})
        if p[:3] != ["_matrix", "client", "v3"]:
            return self._reply(404, {"errcode": "M_UNRECOGNIZED",
                                     "error": "unknown endpoint"})
        p = p[3:]
        if p == ["login"]:
            if method == "GET":
                return self._reply(200, {"flows": [{"type": t} for t in
                                                   hs.login_flows]})
            return self._login(body or {})
        # Everything else needs a token, in the header.
        if not auth.startswith("Bearer "):
            return self._reply(401, {"errcode": "M_MISSING_TOKEN",
                                     "error": "Missing access token"})
        token = auth[len("Bearer "):]
        with hs.cond:
            who = hs.tokens.get(token)
        if who is None:
            return self._reply(401, {"errcode": "M_UNKNOWN_TOKEN",
                                     "error": "Unknown access token",
                                     "soft_logout": False})
        user, device = who
        if p == ["account", "whoami"] and method == "GET":
            return self._reply(200, {"user_id": user, "device_id": device,
                                     "is_guest": False})
        if p == ["sync"] and method == "GET":
            status, resp = hs.sync(user, token, query)
            if status is None:
                return self._drop()
            if hs.spec is not None and status == 200:
                for rid, r in resp.get("rooms", {}).get("join", {}).items():
                    for ev in r["timeline"]["events"]:
                        full = dict(ev, room_id=rid)
                        for e in hs.spec.check_event(full):
                            hs.violation("served " + e)
            return self._reply(status, resp)
        if len(p) == 2 and p[0] == "join" and method == "POST":
            return self._reply(*hs.do_join(user, p[1]))
        if len(p) >= 3 and p[0] == "rooms":
            room_id, action = p[1], p[2]
            if action == "join" and method == "POST" and len(p) == 3:
                return self._reply(*hs.do_join(user, room_id))
            if action == "leave" and method == "POST" and len(p) == 3:
                return self._reply(*hs.do_leave(user, room_id))
            if action == "send" and method == "PUT" and len(p) == 5:
                etype, txn = p[3], p[4]
                if hs.spec is not None and isinstance(body, dict) and \
                        etype == "m.room.message":
                    full = {"type": etype, "content": body,
                            "event_id": "$x", "sender": user,
                            "origin_server_ts": 1, "room_id": room_id}
                    for e in hs.spec.check_event(full):
                        hs.violation("sent " + e)
                    if "m.mentions" in body:
                        for e in hs.spec.check_definition(
                                "definitions/m.mentions.yaml",
                                body["m.mentions"], "sent m.mentions"):
                            hs.violation(e)
                return self._reply(*hs.send(user, token, room_id, etype, txn,
                                            body))
            if action == "typing" and method == "PUT" and len(p) == 4:
                with hs.cond:
                    hs.typing.append((room_id, p[3], body, time.time()))
                if p[3] != user:
                    return self._reply(403, {"errcode": "M_FORBIDDEN",
                                             "error": "not your typing"})
                return self._reply(200, {})
            if action == "receipt" and method == "POST" and len(p) == 5:
                with hs.cond:
                    hs.receipts.append((room_id, p[3], p[4], time.time()))
                    room = hs.rooms.get(room_id)
                    known = room is not None and any(
                        e["event_id"] == p[4] for _, e in room.events)
                if not known:
                    hs.violation("receipt for unknown event %r" % p[4])
                return self._reply(200, {})
        return self._reply(404, {"errcode": "M_UNRECOGNIZED",
                                 "error": "unknown endpoint"})

    def _login(self, body):
        hs = self.server_state
        if body.get("type") != "m.login.password" or \
                "m.login.password" not in hs.login_flows:
            return self._reply(400, {"errcode": "M_UNKNOWN",
                                     "error": "unsupported login type"})
        ident = body.get("identifier", {})
        user = ident.get("user", "")
        if not user.startswith("@"):
            user = "@%s:%s" % (user, SERVER_NAME)
        with hs.cond:
            u = hs.users.get(user)
            if u is None or u.get("password") != body.get("password"):
                return self._reply(403, {"errcode": "M_FORBIDDEN",
                                         "error": "Invalid password"})
            token = "syt_" + _rand(24)
            device = body.get("device_id") or "DEV" + _rand(6)
            hs.tokens[token] = (user, device)
        return self._reply(200, {"user_id": user, "access_token": token,
                                 "device_id": device})
