#!/usr/bin/env python3
"""RobotsTxt against the assertions of Google's reference robots.txt parser tests, which the repository does not hold.

    scripts/robots_conformance.py [PATH/robots_test.cc]     extract, build, run RobotsConformanceTests
    scripts/robots_conformance.py PATH/robots_test.cc --extract-only OUT.json

robots_test.cc is google/robotstxt's test file (Apache 2.0). Get it with
    git clone https://github.com/google/robotstxt        (robotstxt/robots_test.cc)
or  curl -LO https://raw.githubusercontent.com/google/robotstxt/master/robots_test.cc
Without a path the script takes the copy vendored in the sdist of jwm-robotstxt 1.0.8 on PyPI (Python bindings of
Google's parser), downloaded into a temporary folder and checked against PyPI's sha256, so the figures reproduce
with access to PyPI alone.

Each EXPECT_TRUE/EXPECT_FALSE(IsUserAgentAllowed(robotstxt, agent, url)) becomes one JSON entry (test name, line,
robots.txt, agent, URL, expected). The arguments are evaluated by a small interpreter of the C++ the tests use:
string literals (escapes, adjacent literals joined), string variables and their scopes, std::string(...),
.length()/.size(), integer arithmetic, absl::StrCat, absl::StrAppend and while loops. Anything else inside an
assertion stops the script, so the count cannot silently shrink. The JSON goes to a temporary folder and
WINNOW_ROBOTS_TESTS names it for `swift test`; RobotsConformanceTests prints each difference (ROBOTS-DIFF) and the
counts (ROBOTS-SUMMARY), and fails on a difference it does not list as deliberate.
"""

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<char>'(?:[^'\\\n]|\\.)*')
  | (?P<number>\d+)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*(?:::[A-Za-z_][A-Za-z_0-9]*)*)
  | (?P<punct>::|->|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|\+=|-=|[{}()\[\];,.<>=+\-*/&!?:~%|^])
    """,
    re.X | re.S,
)

SIMPLE_ESCAPES = {"n": 10, "r": 13, "t": 9, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8, "f": 12, "v": 11}


def unescape(body: str) -> bytes:
    """The bytes of a C++ string literal's body (source is UTF-8)."""
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            m = re.match(r"[0-9A-Fa-f]+", body[i + 2 :])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        elif e in SIMPLE_ESCAPES:
            out.append(SIMPLE_ESCAPES[e])
            i += 2
        else:
            raise ValueError(f"escape \\{e} not handled")
    return bytes(out)


def tokenize(src: str):
    """(kind, text, line) for each token, comments and preprocessor lines dropped."""
    tokens, pos, line = [], 0, 1
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            raise ValueError(f"line {line}: cannot read {src[pos:pos + 20]!r}")
        kind = m.lastgroup
        if kind != "space":
            tokens.append((kind, m.group(0), line))
        line += m.group(0).count("\n")
        pos = m.end()
    return tokens


class Unsupported(Exception):
    pass


class Interpreter:
    """Runs the statements of one TEST body far enough to know every IsUserAgentAllowed argument."""

    TYPES = {"std::string", "absl::string_view", "size_t", "int", "char", "bool", "auto"}

    def __init__(self, tokens, test):
        self.t, self.i, self.test = tokens, 0, test
        self.scopes = [{}]
        self.cases = []

    # Tokens.
    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else ("eof", "", 0)

    def take(self, text=None):
        tok = self.peek()
        if text is not None and tok[1] != text:
            raise Unsupported(f"line {tok[2]}: expected {text!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def skip_statement(self):
        depth = 0
        while True:
            kind, text, _ = self.take()
            if kind == "eof":
                return
            if text in "({[" and kind == "punct":
                depth += 1
            elif text in ")}]" and kind == "punct":
                depth -= 1
            elif text == ";" and depth == 0:
                return

    # Variables.
    def lookup(self, name, line):
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise Unsupported(f"line {line}: unknown variable {name}")

    def assign(self, name, value):
        for scope in reversed(self.scopes):
            if name in scope:
                scope[name] = value
                return
        raise Unsupported(f"assignment to unknown {name}")

    # Expressions: values are bytes or int.
    def expression(self):
        value = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def comparison(self):
        left = self.expression()
        op = self.peek()[1]
        if op not in ("<", "<=", ">", ">=", "==", "!="):
            return bool(left)
        self.take()
        right = self.expression()
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
                "==": left == right, "!=": left != right}[op]

    def term(self):
        value = self.factor()
        while self.peek()[1] == "*":
            self.take()
            value = value * self.factor()
        return value

    def factor(self):
        kind, text, line = self.take()
        if kind == "string":
            value = unescape(text[1:-1])
            while self.peek()[0] == "string":  # adjacent literals are one literal
                value += unescape(self.take()[1][1:-1])
            return self.postfix(value)
        if kind == "number":
            return int(text)
        if text == "(":
            value = self.expression()
            self.take(")")
            return self.postfix(value)
        if text in ("std::string", "absl::string_view"):
            self.take("(")
            value = b"" if self.peek()[1] == ")" else self.expression()
            self.take(")")
            return self.postfix(value)
        if text == "absl::StrCat":
            return self.postfix(b"".join(self.arguments()))
        if kind == "name":
            return self.postfix(self.lookup(text, line))
        raise Unsupported(f"line {line}: cannot evaluate {text!r}")

    def postfix(self, value):
        while self.peek()[1] == "." and self.peek(1)[1] in ("length", "size"):
            self.take()
            self.take()
            self.take("(")
            self.take(")")
            value = len(value)
        return value

    def arguments(self):
        self.take("(")
        args = []
        while self.peek()[1] != ")":
            args.append(self.expression())
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        return args

    # Statements.
    def block(self):
        self.take("{")
        self.scopes.append({})
        while self.peek()[1] != "}":
            self.statement()
        self.take("}")
        self.scopes.pop()

    def declaration(self):
        while self.peek()[1] in ("const", "static"):
            self.take()
        self.take()  # the type
        _, name, _ = self.take()
        if self.peek()[1] == "[":
            self.take("[")
            self.take("]")
        value = b""
        if self.peek()[1] == "=":
            self.take()
            value = self.expression()
        elif self.peek()[1] == "(":
            args = self.arguments()
            value = args[0] if args else b""
        self.take(";")
        self.scopes[-1][name] = value

    def statement(self):
        kind, text, line = self.peek()
        if text == "{":
            self.block()
        elif text in ("EXPECT_TRUE", "EXPECT_FALSE") and self.peek(2)[1] == "IsUserAgentAllowed":
            self.take()
            self.take("(")
            self.take("IsUserAgentAllowed")
            args = self.arguments()
            self.take(")")
            self.take(";")
            if len(args) != 3 or not all(isinstance(a, bytes) for a in args):
                raise Unsupported(f"line {line}: IsUserAgentAllowed with arguments {args!r}")
            self.cases.append({"test": self.test, "line": line, "expected": text == "EXPECT_TRUE",
                               "robotstxt": args[0], "agent": args[1], "url": args[2]})
        elif text in ("const", "static") or (text in self.TYPES and self.peek(1)[0] == "name"):
            self.declaration()
        elif text == "absl::StrAppend":
            self.take()
            self.take("(")
            self.take("&")
            _, target, tline = self.take()
            parts = []
            while self.peek()[1] == ",":
                self.take()
                parts.append(self.expression())
            self.take(")")
            self.take(";")
            self.assign(target, self.lookup(target, tline) + b"".join(parts))
        elif text == "while":
            self.take()
            self.take("(")
            start = self.i
            rounds = 0
            while True:
                self.i = start
                holds = self.comparison()
                self.take(")")
                if not holds:
                    self.skip_body()
                    break
                self.block()
                rounds += 1
                if rounds > 1_000_000:
                    raise Unsupported(f"line {line}: loop does not end")
        elif text == "if" or text == "for":
            raise Unsupported(f"line {line}: {text} statements are not interpreted")
        else:
            self.skip_statement()

    def skip_body(self):
        depth = 0
        while True:
            _, text, _ = self.take()
            if text == "{":
                depth += 1
            elif text == "}":
                depth -= 1
                if depth == 0:
                    return


def extract(path):
    """Every IsUserAgentAllowed assertion of the TEST bodies in robots_test.cc."""
    src = open(path, encoding="utf-8").read()
    tokens = tokenize(src)
    cases = []
    i = 0
    while i < len(tokens):
        if tokens[i][1] == "TEST" and tokens[i + 1][1] == "(":
            name = tokens[i + 4][1]
            j = i + 2
            while tokens[j][1] != ")":
                j += 1
            body_start = j + 1
            depth, k = 0, body_start
            while True:
                if tokens[k][1] == "{":
                    depth += 1
                elif tokens[k][1] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            interp = Interpreter(tokens[body_start : k + 1], name)
            interp.block()
            cases += interp.cases
            i = k + 1
        else:
            i += 1
    # Every call in an assertion must have been read: the helper's own definition is the one other mention.
    mentions = sum(1 for t in tokens if t[1] == "IsUserAgentAllowed")
    if mentions - 1 != len(cases):
        sys.exit(f"robots_conformance: read {len(cases)} assertions but the file calls IsUserAgentAllowed "
                 f"{mentions - 1} times")
    return cases


def field(value: bytes):
    """A JSON value for bytes: the text when it is UTF-8, else {"base64": ...}."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


SDIST = ("jwm-robotstxt", "1.0.8", "jwm_robotstxt-1.0.8/robotstxt/robots_test.cc")


def from_pypi(folder):
    """robots_test.cc from the sdist of jwm-robotstxt, which vendors google/robotstxt."""
    name, version, member = SDIST
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=60) as r:
        project = json.load(r)
    files = project.get("releases", {}).get(version) or (
        project["urls"] if project["info"]["version"] == version else [])
    sdist = next((f for f in files if f["packagetype"] == "sdist"), None)
    if sdist is None:
        sys.exit(f"robots_conformance: no sdist of {name} {version} on PyPI; pass a robots_test.cc")
    with urllib.request.urlopen(sdist["url"], timeout=60) as r:
        blob = r.read()
    if hashlib.sha256(blob).hexdigest() != sdist["digests"]["sha256"]:
        sys.exit(f"robots_conformance: {sdist['filename']} does not match PyPI's sha256")
    path = os.path.join(folder, "robots_test.cc")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar, open(path, "wb") as out:
        out.write(tar.extractfile(member).read())
    print(f"robots_conformance: {member} from {sdist['filename']}", file=sys.stderr)
    return path


def main():
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        run(args[0] if args else from_pypi(tmp), args[1:], tmp)


def run(source, rest, tmp):
    cases = extract(source)
    entries = [dict(c, robotstxt=field(c["robotstxt"]), agent=field(c["agent"]), url=field(c["url"])) for c in cases]
    google_only = sum(1 for c in cases if c["test"].startswith("GoogleOnly_"))
    print(f"robots_conformance: {len(cases)} assertions ({len(cases) - google_only} ID_, {google_only} GoogleOnly_)",
          file=sys.stderr)
    if len(rest) == 2 and rest[0] == "--extract-only":
        with open(rest[1], "w") as f:
            json.dump(entries, f, indent=1, ensure_ascii=False)
        return
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    data = os.path.join(tmp, "robots_assertions.json")
    with open(data, "w") as f:
        json.dump(entries, f, indent=1, ensure_ascii=False)
    subprocess.run(["swift", "build", "--build-tests"], cwd=root, check=True)
    test = subprocess.run(["swift", "test", "--skip-build", "--filter", "RobotsConformanceTests"], cwd=root,
                          env=dict(os.environ, WINNOW_ROBOTS_TESTS=data), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    keep = re.compile(r"ROBOTS-DIFF|ROBOTS-SUMMARY|Test run|passed|failed")
    print("\n".join(line for line in test.stdout.splitlines() if keep.search(line)))
    sys.exit(test.returncode)


if __name__ == "__main__":
    main()
