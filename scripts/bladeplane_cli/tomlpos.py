"""Where each key of a TOML document is: tomllib reports positions only
for syntax errors, and topology errors must name the line of the key.

locate(text) scans a document tomllib already accepted and maps each
concrete key path to its line number.  A concrete path is a tuple of keys
and array indices, the way the parsed data is addressed:
('chassis', 0, 'blade', 2, 'slot') is the `slot` key of the third
[[chassis.blade]] table of the first [[chassis]].  Array elements get
their own line too (('chassis', 0, 'service', 0, 'blades', 1)), so an
element of an array that spans lines is found.

The scanner is lenient: the document is known to be valid TOML, and a
construct it does not follow only costs precision (Positions.line falls
back to the nearest enclosing key it knows).
"""

import re
import tomllib


def syntax_message(path: str, err: tomllib.TOMLDecodeError) -> str:
    """tomllib's "Invalid value (at line 3, column 7)" as "PATH:3: TOML
    syntax: invalid value (column 7)", the form of every file error."""
    msg = str(err)
    m = re.match(r"^(.*) \(at line (\d+), column (\d+)\)$", msg)
    if m:
        return (f"{path}:{m.group(2)}: TOML syntax: "
                f"{m.group(1)[0].lower()}{m.group(1)[1:]} "
                f"(column {m.group(3)})")
    return f"{path}: TOML syntax: {msg}"


def read_text(path: str, what: str = "file") -> tuple[str | None, str]:
    """A TOML file's text, or (None, the one-line error with its path:
    line) for a file that is missing, a directory, unreadable or not
    UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, f"{path}: no such file"
    except IsADirectoryError:
        return None, f"{path}: is a directory, not a {what}"
    except OSError as e:
        return None, f"{path}: cannot read: {e.strerror}"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        return None, f"{path}:{line}: not UTF-8 text"


def show_value(v: object) -> str:
    """A TOML value as a file error names it: strings quoted, tables and
    arrays by kind."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    return str(v)


BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class Positions:
    def __init__(self, lines):
        self.lines = lines

    def line(self, path):
        """The line of path, else of its nearest known ancestor; None if
        nothing is known."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


class _Scanner:
    def __init__(self, text):
        self.s = text
        self.i = 0
        self.line = 1
        self.out = {}
        self.counts = {}      # concrete array-of-tables path -> tables so far

    # -- characters ---------------------------------------------------------

    def peek(self, n=0):
        j = self.i + n
        return self.s[j] if j < len(self.s) else ""

    def adv(self, n=1):
        for _ in range(n):
            if self.i < len(self.s):
                if self.s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def skip_ws(self, newlines=False):
        """Spaces, tabs, comments and (with newlines) line breaks."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r":
                self.adv()
            elif c == "\n" and newlines:
                self.adv()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.adv()
            else:
                return

    # -- keys and strings ---------------------------------------------------

    def string(self):
        """A string at the cursor; returns its value (escapes decoded only
        as far as keys need)."""
        s = self.s
        if s.startswith('"""', self.i) or s.startswith("'''", self.i):
            q = s[self.i:self.i + 3]
            self.adv(3)
            while self.i < len(s):
                if q[0] == '"' and s[self.i] == "\\":
                    self.adv(2)
                    continue
                if s.startswith(q, self.i):
                    # Up to two more quotes belong to the content.
                    while s.startswith(q + q[0], self.i):
                        self.adv()
                    self.adv(3)
                    return ""
                self.adv()
            return ""
        q = s[self.i]
        self.adv()
        value = []
        while self.i < len(s) and s[self.i] != q and s[self.i] != "\n":
            if q == '"' and s[self.i] == "\\":
                value.append(_unescape(s[self.i + 1:self.i + 2]))
                self.adv(2)
                continue
            value.append(s[self.i])
            self.adv()
        self.adv()
        return "".join(value)

    def key(self):
        """A dotted key; returns its parts."""
        parts = []
        while True:
            self.skip_ws()
            c = self.peek()
            if c in "\"'":
                parts.append(self.string())
            else:
                start = self.i
                while self.peek() in BARE and self.peek():
                    self.adv()
                if self.i == start:
                    return parts
                parts.append(self.s[start:self.i])
            self.skip_ws()
            if self.peek() == ".":
                self.adv()
                continue
            return parts

    # -- structure ----------------------------------------------------------

    def concrete(self, names):
        """Names of a table header -> concrete path: an array of tables
        along the way stands for its last table so far."""
        path: tuple[str | int, ...] = ()
        for name in names:
            path += (name,)
            if path in self.counts:
                path += (self.counts[path] - 1,)
        return path

    def document(self):
        table = ()
        while True:
            self.skip_ws(newlines=True)
            if self.i >= len(self.s):
                return self.out
            line = self.line
            if self.s.startswith("[[", self.i):
                self.adv(2)
                names = self.key()
                self.adv(2)
                parent = self.concrete(names[:-1])
                arr = parent + (names[-1],)
                self.out.setdefault(arr, line)
                index = self.counts.get(arr, 0)
                self.counts[arr] = index + 1
                table = arr + (index,)
                self.out[table] = line
            elif self.peek() == "[":
                self.adv()
                names = self.key()
                self.adv()
                table = self.concrete(names)
                self.out.setdefault(table, line)
            else:
                self.keyval(table)
            self.skip_line()

    def skip_line(self):
        """The rest of a line after a statement (a comment at most)."""
        self.skip_ws()
        while self.i < len(self.s) and self.s[self.i] != "\n":
            self.adv()

    def keyval(self, table):
        line = self.line
        parts = self.key()
        if not parts:                      # not a key: give up on this line
            return
        path = table
        for p in parts:
            path += (p,)
            self.out.setdefault(path, line)
        self.out[path] = line
        self.skip_ws()
        if self.peek() == "=":
            self.adv()
        self.value(path)

    def value(self, path):
        self.skip_ws()
        self.out.setdefault(path, self.line)
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.adv()
            index = 0
            while True:
                self.skip_ws(newlines=True)
                if self.peek() in ("]", ""):
                    self.adv()
                    return
                self.out[path + (index,)] = self.line
                self.value(path + (index,))
                index += 1
                self.skip_ws(newlines=True)
                if self.peek() == ",":
                    self.adv()
        elif c == "{":
            self.adv()
            while True:
                self.skip_ws()
                if self.peek() in ("}", "", "\n"):
                    self.adv()
                    return
                line = self.line
                parts = self.key()
                if not parts:
                    self.adv()
                    continue
                sub = path
                for p in parts:
                    sub += (p,)
                    self.out.setdefault(sub, line)
                self.out[sub] = line
                self.skip_ws()
                if self.peek() == "=":
                    self.adv()
                self.value(sub)
                self.skip_ws()
                if self.peek() == ",":
                    self.adv()
        else:
            # A number, boolean or date: up to the next delimiter.
            while self.peek() and self.peek() not in ",]}\n#":
                self.adv()


def _unescape(c):
    return {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(c, c)


def locate(text):
    """Positions of the keys of a TOML document tomllib accepted."""
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (IndexError, RecursionError):     # lenient: keep what we have
        pass
    return Positions(scanner.out)
