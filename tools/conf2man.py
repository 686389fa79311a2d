#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""conf2man: writes fulcrum.conf(5) from the sample contrib/fulcrum.conf.

    conf2man.py SAMPLE VERSION > fulcrum.conf.5

The sample's comments are the reference for every key, so the manual page
is made from them at build time and the two cannot drift.  Nothing here
knows a key name: the page follows the file's own shape.

- "# ---- NAME" lines open a manual section (NAME in capitals);
- a key line, live ("key = value;") or commented out ("# key = value;"),
  becomes an entry named by its path (listeners.cookie.mode), tagged with
  the sample's value, and described by the comment block just above it and
  by its trailing comment with the lines continuing it;
- a key without any comment of its own joins the entry before it (user and
  group, garp_count and garp_repeat_ms);
- groups "{ }" and lists "( )", live or commented out, extend the path; an
  element of a list adds nothing to it; a comment left at the end of a
  group is added to the group's entry;
- comment lines indented past their block's left edge (diagrams, tables,
  commands) are kept as they are, the rest is filled as paragraphs;
- the comment block at the top of the file is the DESCRIPTION.
"""
import re
import sys

KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:(?=\s*[{(]))\s*(.*)$")
CLOSE = re.compile(r"^[})]\s*[;,]?$")
SECTION = re.compile(r"^#\s*-{4,}\s*(\S.*?)\s*$")


def split_comment(code):
    """(code, trailing comment or None, offset of its '#'), outside strings."""
    quoted = False
    for i, c in enumerate(code):
        if c == '"':
            quoted = not quoted
        elif c == "#" and not quoted:
            return code[:i].rstrip(), code[i + 1:].strip(), i
    return code.rstrip(), None, -1


def depth_change(code):
    """Brackets opened minus closed, outside strings."""
    n, quoted = 0, False
    for c in code:
        if c == '"':
            quoted = not quoted
        elif not quoted and c in "{(":
            n += 1
        elif not quoted and c in "})":
            n -= 1
    return n


def classify(raw):
    """One line of the file as a dict: kind blank, section, prose, key, code."""
    line = raw.rstrip("\n").expandtabs(8)
    body = line.lstrip()
    if body == "":
        return {"kind": "blank"}
    m = SECTION.match(body)
    if m and body.count("-") >= 8:
        return {"kind": "section", "name": m.group(1).split()[-1]}
    commented = False
    col = len(line) - len(body)
    if body.startswith("#"):
        rest = body[1:]
        inner = rest.lstrip()
        icol = col + 1 + len(rest) - len(inner)
        while inner.startswith("#"):
            # inside a commented-out group: prose, or a key commented twice
            rest = inner[1:]
            col = icol
            inner = rest.lstrip()
            icol = col + 1 + len(rest) - len(inner)
        if inner == "":
            return {"kind": "prose", "col": col, "textcol": icol, "text": ""}
        code, trailing, _ = split_comment(inner)
        if not (KEY.match(code) and code[-1:] in ";{(,") and not CLOSE.match(code):
            return {"kind": "prose", "col": col, "textcol": icol,
                    "text": inner.rstrip()}
        commented, body, col = True, inner, icol
    code, trailing, _ = split_comment(body)
    m = KEY.match(code)
    d = {"kind": "key" if m else "code", "col": col, "trailing": trailing,
         "commented": commented, "delta": depth_change(code), "code": code}
    if m:
        d["name"], d["value"] = m.group(1), m.group(2).rstrip(";, ")
    return d


class Entry:
    def __init__(self, path, value, commented):
        self.tags = [(path, value, commented)]
        self.blocks = []            # lists of (textcol, text) lines

    def add(self, lines):
        if lines:
            self.blocks.append(lines)


class Parser:
    def __init__(self):
        self.intro = []             # the top comment
        self.sections = [["", []]]  # [name, entries]
        self.stack = []             # (name or None, entry or None)
        self.pending = []           # comment lines waiting for their key
        self.cont = None            # (entry, column) continuing a trailing comment
        self.seen_code = False

    def path(self, name):
        return ".".join([n for n, _ in self.stack if n] + [name])

    def feed(self, raw):
        d = classify(raw)
        kind = d["kind"]
        if kind == "prose" and self.cont and d["col"] > self.cont[1] and d["text"]:
            self.cont[0].blocks[-1].append((0, d["text"]))
            return
        self.cont = None
        if kind == "blank":
            self.flush_intro()
            self.pending = []
        elif kind == "section":
            self.flush_intro()
            self.pending = []
            self.sections.append([d["name"], []])
        elif kind == "prose":
            self.pending.append((d["textcol"], d["text"]))
        else:
            self.flush_intro()
            self.seen_code = True
            self.code(d)

    def flush_intro(self):
        """Every comment block before the first section is the description."""
        if self.seen_code or len(self.sections) > 1 or not self.pending:
            return
        if self.intro:
            self.intro.append((self.pending[0][0], ""))
        self.intro += self.pending

    def code(self, d):
        entry = None
        if d["kind"] == "key":
            entry = self.key(d)
        elif self.pending and self.stack and self.stack[-1][1]:
            # a comment closing a group belongs to the group
            self.stack[-1][1].add(self.pending)
        self.pending = []
        delta = d["delta"]
        if delta > 0:
            name = d.get("name")
            self.stack.append((name, entry))
            for _ in range(delta - 1):
                self.stack.append((None, None))
        for _ in range(-delta):
            if self.stack:
                self.stack.pop()

    def key(self, d):
        entries = self.sections[-1][1]
        in_element = self.stack and self.stack[-1][0] is None and d["delta"] == 0 \
            and "{" in d["code"][:1]
        if in_element:
            return None
        path = self.path(d["name"])
        if not self.pending and not d["trailing"] and entries:
            entries[-1].tags.append((path, d["value"], d["commented"]))
            return entries[-1]
        e = Entry(path, d["value"], d["commented"])
        e.add(self.pending)
        if d["trailing"]:
            e.add([(0, d["trailing"])])
            self.cont = (e, d["col"])
        entries.append(e)
        return e


# ------------------------------------------------------------ roff output

def esc(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + s if s[:1] in (".", "'") else s


def render_block(lines, out):
    """Filled paragraphs, with the lines indented past the left edge kept."""
    edge = min((c for c, t in lines if t), default=0)
    pre = False
    for col, text in lines:
        if text == "":
            if pre:
                out.append(".fi")
                pre = False
            out.append(".sp")
            continue
        deeper = col > edge
        if deeper and not pre:
            out.append(".nf")
            pre = True
        elif not deeper and pre:
            out.append(".fi")
            pre = False
        out.append(esc(" " * (col - edge) + text if deeper else text))
    if pre:
        out.append(".fi")


def tag(path, value, commented):
    v = value
    if v.startswith("{") and v.endswith("}"):
        pass
    elif v.startswith("{"):
        v = "{ ... }"
    elif v.startswith("("):
        v = "( ... )"
    if len(v) > 36:     # a long value cannot break: its start is enough
        v = v[:32] + ('..."' if v.startswith('"') else "...")
    s = "\\fB" + esc(path) + "\\fR"
    if v:
        s += " = " + esc(v)
    if commented:
        s += " (not set in the sample)"
    return s


def render(p, version):
    out = ['.\\" Generated by tools/conf2man.py from contrib/fulcrum.conf: edit that file.',
           f'.TH FULCRUM.CONF 5 "" "fulcrum {version}" "File Formats"',
           ".SH NAME",
           "fulcrum.conf \\- configuration file of the fulcrum load balancer",
           ".SH SYNOPSIS",
           ".I @sysconfdir@/fulcrum/fulcrum.conf",
           ".SH DESCRIPTION"]
    render_block(p.intro, out)
    out += [".PP",
            "Each key below is named by its path in the file: "
            "\\fBlisteners.cookie.mode\\fR is the \\fBmode\\fR key of the "
            "\\fBcookie\\fR group of an element of the \\fBlisteners\\fR list. "
            "The value shown is the sample's; \"not set in the sample\" marks "
            "a key that is commented out there, usually at its default."]
    for name, entries in p.sections:
        if not entries:
            continue
        out.append(".SH " + esc(name.upper() if name else "KEYS"))
        for e in entries:
            out.append(".TP")
            out.append(tag(*e.tags[0]))
            for t in e.tags[1:]:
                out.append(".TQ")
                out.append(tag(*t))
            for i, b in enumerate(e.blocks):
                if i:
                    out.append(".sp")
                render_block(b, out)
    out += [".SH FILES",
            ".TP",
            ".I @sysconfdir@/fulcrum/fulcrum.conf",
            "the default configuration (\\fB\\-f\\fR picks another)",
            ".SH SEE ALSO",
            ".BR fulcrum (8),",
            ".BR fulcrum\\-stat (1),",
            ".BR fulcrumctl (8)"]
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: conf2man.py SAMPLE VERSION\n")
        return 2
    p = Parser()
    with open(sys.argv[1]) as f:
        for raw in f:
            p.feed(raw)
    sys.stdout.write(render(p, sys.argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
