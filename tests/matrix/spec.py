"""spec.py - check Matrix requests and responses against the official schemas.

Loads the Client-Server API OpenAPI files and the event schemas published
with the Matrix specification (directory given by MATRIX_SPEC_DIR, default
../shared/matrix-spec relative to the repository root), inlines every
relative $ref itself (so it works with jsonschema 4.10, which has no
`referencing` library, as well as newer releases) and validates with the
Draft 2020-12 validator.

    spec = Spec.load(path)          # None when the directory is missing
    errors = spec.check_request("PUT", "/_matrix/client/v3/rooms/!r/send/"
                                "m.room.message/t1", body)
    errors = spec.check_response("GET", "/_matrix/client/versions", 200, body)
    errors = spec.check_event(event)  # m.room.message / m.room.member ...
"""

import copy
import os
import re

import jsonschema
import yaml

# Schemas that only document examples; they are never needed to validate.
_SKIP_KEYS = ("example", "examples", "x-example")


class _Resolver:
    def __init__(self):
        self.files = {}

    def load(self, path):
        path = os.path.normpath(path)
        if path not in self.files:
            with open(path, encoding="utf-8") as f:
                self.files[path] = yaml.safe_load(f)
        return self.files[path]

    @staticmethod
    def pointer(doc, frag):
        node = doc
        if frag in ("", "/"):
            return node
        for part in frag.lstrip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def inline(self, node, base, stack=()):
        """Return a copy of 'node' (found in file 'base') with every $ref
        replaced by its target, recursively.  A reference cycle becomes {}
        (accept anything) rather than recursing for ever."""
        if isinstance(node, list):
            return [self.inline(n, base, stack) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"]
            target_file, _, frag = ref.partition("#")
            target_path = (os.path.normpath(os.path.join(
                os.path.dirname(base), target_file)) if target_file else base)
            key = (target_path, frag)
            if key in stack or not os.path.exists(target_path):
                resolved = {}
            else:
                target = self.pointer(self.load(target_path), frag)
                resolved = self.inline(target, target_path, stack + (key,))
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if not rest:
                return resolved
            return {"allOf": [resolved, self.inline(rest, base, stack)]}
        out = {}
        for k, v in node.items():
            if k in _SKIP_KEYS or k == "$schema" or k == "$id":
                continue
            if k == "properties" and isinstance(v, dict):
                # Property names are data, not keywords: keep them all.
                out[k] = {pk: self.inline(pv, base, stack)
                          for pk, pv in v.items()}
            else:
                out[k] = self.inline(v, base, stack)
        return out


class _Operation:
    def __init__(self, method, template, regex, op, path):
        self.method = method
        self.template = template
        self.regex = regex
        self.op = op
        self.path = path
        self.request_schema = None
        self.responses = {}


class Spec:
    def __init__(self, root):
        self.root = root
        self.res = _Resolver()
        self.ops = []
        self.validators = {}
        self.event_schemas = {}
        self._load_api()

    @classmethod
    def load(cls, root):
        cs = os.path.join(root, "data", "api", "client-server")
        if not os.path.isdir(cs):
            return None
        return cls(root)

    def _load_api(self):
        cs = os.path.join(self.root, "data", "api", "client-server")
        for name in sorted(os.listdir(cs)):
            if not name.endswith(".yaml"):
                continue
            path = os.path.join(cs, name)
            doc = self.res.load(path)
            if not isinstance(doc, dict) or "paths" not in doc:
                continue
            prefixes = []
            for srv in doc.get("servers", []):
                bp = (srv.get("variables", {}).get("basePath", {})
                      .get("default"))
                if bp is not None:
                    prefixes.append(bp)
                    # Older prefixes listed as alternatives (enum).
                    for alt in (srv.get("variables", {}).get("basePath", {})
                                .get("enum", [])):
                        if alt != bp and alt.endswith("/v3"):
                            prefixes.append(alt)
            if not prefixes:
                prefixes = ["/_matrix/client/v3"]
            for template, item in doc["paths"].items():
                for method, op in item.items():
                    if method not in ("get", "put", "post", "delete"):
                        continue
                    for prefix in prefixes:
                        full = prefix + template
                        pattern = "^" + re.sub(
                            r"\\\{[^}]+\\\}", "[^/]+", re.escape(full)) + "$"
                        o = _Operation(method.upper(), full,
                                       re.compile(pattern), op, path)
                        self.ops.append(o)
        # Prefer the most specific template (fewest variables, longest).
        self.ops.sort(key=lambda o: (o.template.count("{"), -len(o.template)))

    def _find(self, method, path):
        for o in self.ops:
            if o.method == method and o.regex.match(path):
                return o
        return None

    def _validator(self, key, schema, base):
        if key not in self.validators:
            inlined = self.res.inline(schema, base)
            cls = jsonschema.Draft202012Validator
            self.validators[key] = cls(inlined)
        return self.validators[key]

    @staticmethod
    def _errors(v, instance, what):
        errs = []
        for e in sorted(v.iter_errors(instance), key=lambda e: list(e.path)):
            loc = "/".join(str(p) for p in e.path) or "(root)"
            errs.append("%s: %s: %s" % (what, loc, e.message[:300]))
        return errs

    def known(self, method, path):
        return self._find(method, path) is not None

    def check_request(self, method, path, body):
        o = self._find(method, path)
        if o is None:
            return ["%s %s: no such endpoint in the specification" %
                    (method, path)]
        rb = o.op.get("requestBody")
        if rb is None:
            return []
        if "$ref" in rb:
            rb = self.res.inline(rb, o.path)
        schema = (rb.get("content", {}).get("application/json", {})
                  .get("schema"))
        if schema is None:
            return []
        v = self._validator(("req", o.method, o.template), schema, o.path)
        return self._errors(v, body, "request %s %s" % (method, o.template))

    def check_response(self, method, path, status, body):
        o = self._find(method, path)
        if o is None:
            return ["%s %s: no such endpoint in the specification" %
                    (method, path)]
        responses = o.op.get("responses", {})
        r = responses.get(str(status)) or responses.get(status)
        if r is None:
            # Rate limiting and server errors are allowed anywhere; check
            # them against the standard error shapes.
            if status == 429:
                return self._check_def("definitions/errors/rate_limited.yaml",
                                       body, "response 429")
            if status >= 400:
                return self._check_def("definitions/errors/error.yaml",
                                       body, "response %d" % status)
            return ["%s %s: status %d is not documented" %
                    (method, o.template, status)]
        r = self.res.inline(r, o.path)
        schema = (r.get("content", {}).get("application/json", {})
                  .get("schema"))
        if schema is None:
            return []
        v = self._validator(("resp", o.method, o.template, status), schema,
                            o.path)
        return self._errors(v, body, "response %d %s %s" %
                            (status, method, o.template))

    def _check_def(self, rel, body, what):
        path = os.path.join(self.root, "data", "api", "client-server", rel)
        schema = self.res.load(path)
        v = self._validator(("def", rel), schema, path)
        return self._errors(v, body, what)

    def check_event(self, event):
        """Validate a whole event against its event schema (for messages,
        the schema of its msgtype when one exists)."""
        etype = event.get("type", "")
        names = [etype]
        if etype == "m.room.message":
            mt = event.get("content", {}).get("msgtype", "")
            names.insert(0, "m.room.message$" + mt)
        evdir = os.path.join(self.root, "data", "event-schemas", "schema")
        for name in names:
            path = os.path.join(evdir, name + ".yaml")
            if os.path.exists(path):
                v = self._validator(("event", name), self.res.load(path),
                                    path)
                return self._errors(v, event, "event " + name)
        return []

    def check_definition(self, rel, instance, what):
        """Validate against a client-server definitions/ file, e.g.
        'definitions/m.mentions.yaml'."""
        return self._check_def(rel, instance, what)


def spec_dir(repo_root):
    env = os.environ.get("MATRIX_SPEC_DIR")
    if env:
        return env
    return os.path.normpath(os.path.join(repo_root, "..", "shared",
                                         "matrix-spec"))


if __name__ == "__main__":
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    s = Spec.load(spec_dir(os.path.join(here, "..", "..")))
    print("operations:", len(s.ops))
    print(s.check_response("GET", "/_matrix/client/v3/sync", 200, {}))
    print(s.check_request("POST", "/_matrix/client/v3/login", {}))
    copy.deepcopy({})
    sys.exit(0)
