"""Low-level readers of EdgeCloudSim scenario files, with line numbers for the error messages:
Java ``.properties`` (:func:`read_properties`), XML (:func:`read_xml`), numbers
(:func:`number`) and the one error, :class:`EcsFormatError` (a
:class:`~mecoffload.core.errors.ScenarioError`): ``FILE:LINE: field 'NAME': what is wrong``.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ScenarioError
from ..core.files import read_user_bytes

PROPERTIES = "default_config.properties"
APPLICATIONS = "applications.xml"
EDGE_DEVICES = "edge_devices.xml"


class EcsFormatError(ScenarioError):
    """A malformed EdgeCloudSim file (one line naming the file, the line and the field)."""


FOLDER_FILES = f"an EdgeCloudSim folder has {PROPERTIES}, {APPLICATIONS}, {EDGE_DEVICES}"


def read_file(path: Path) -> bytes:
    """The bytes of one file of an EdgeCloudSim folder: checked to be a regular file of at most
    16 MiB before it is opened (a FIFO would block forever, a device never end); every problem
    is one EcsFormatError line."""
    return read_user_bytes(path, str(path), EcsFormatError, missing=f"file not found ({FOLDER_FILES})")


# ---------------------------------------------------------------------- .properties


def read_properties(path: Path) -> tuple[dict[str, tuple[str, int]], int]:
    """Java ``.properties``: ``key=value``, ``key:value`` or ``key value``; ``#``/``!`` comments;
    a trailing backslash continues the value on the next line. Returns {key: (value, line)}
    (the last occurrence wins, as in Java) and the number of lines."""
    text = read_file(path).decode("latin-1")  # Java reads .properties as ISO 8859-1
    lines = text.splitlines()
    out: dict[str, tuple[str, int]] = {}
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and (len(line) - len(line.rstrip("\\"))) % 2 == 1 and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        m = re.match(r"((?:[^\s=:\\]|\\.)+)\s*[=:]?\s*(.*)$", line)
        if not m:
            raise EcsFormatError(f"{path.name}:{start + 1}: cannot read '{line.strip()}' (expected key=value)")
        out[m.group(1)] = (m.group(2).strip(), start + 1)
    return out, len(lines)


# ---------------------------------------------------------------------- XML with line numbers


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    text: str = ""
    children: list["Node"] = field(default_factory=list)

    def find_all(self, tag: str) -> list["Node"]:
        return [c for c in self.children if c.tag == tag]


def read_xml(path: Path) -> Node:
    data = read_file(path)
    parser = xml.parsers.expat.ParserCreate()
    stack: list[Node] = []
    root: list[Node] = []

    def start(tag, attrs):
        node = Node(tag, dict(attrs), parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(tag):
        stack.pop()

    def chars(text):
        if stack:
            stack[-1].text += text

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        where = f"<{stack[-1].tag}>" if stack else "document"
        raise EcsFormatError(f"{path.name}:{exc.lineno}: field '{where}': malformed XML: "
                             f"{xml.parsers.expat.ErrorString(exc.code)} (column {exc.offset + 1})") from None
    return root[0]


class Warnings:
    """The warnings of one import, one per key or element that is not simulated."""

    def __init__(self):
        self.warnings: list[str] = []

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def number(fname: str, line: int, key: str, raw: str, *, integer: bool = False, lo: float | None = None) -> float | int:
    s = raw.strip()
    try:
        v = float(s)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise EcsFormatError(f"{fname}:{line}: field '{key}': expected {kind}, got '{s}'") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise EcsFormatError(f"{fname}:{line}: field '{key}': expected a finite number, got '{s}'")
    if integer:
        if v != int(v):
            raise EcsFormatError(f"{fname}:{line}: field '{key}': expected an integer, got '{s}'")
        v = int(v)
    if lo is not None and v < lo:
        raise EcsFormatError(f"{fname}:{line}: field '{key}': must be >= {lo:g}, got '{s}'")
    return v


def text_of(fname: str, node: Node, key: str) -> tuple[str, int]:
    found = node.find_all(key)
    if not found or not found[0].text.strip():
        raise EcsFormatError(f"{fname}:{node.line}: field '{key}': missing in <{node.tag}{label(node)}>")
    return found[0].text.strip(), found[0].line


def label(node: Node) -> str:
    return f" name=\"{node.attrs['name']}\"" if "name" in node.attrs else ""


def children_of(path: Path, root_tag: str, tag: str, ctx: Warnings) -> tuple[Node, list[Node]]:
    """The ``<tag>`` children of an XML file whose root must be ``<root_tag>``; any other child
    is a warning, none at all an error."""
    fname = path.name
    root = read_xml(path)
    if root.tag != root_tag:
        raise EcsFormatError(f"{fname}:{root.line}: field '<{root.tag}>': expected root element <{root_tag}>")
    for child in root.children:
        if child.tag != tag:
            ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}>: ignored")
    nodes = root.find_all(tag)
    if not nodes:
        raise EcsFormatError(f"{fname}:{root.line}: field '{tag}': no <{tag}> element")
    return root, nodes
