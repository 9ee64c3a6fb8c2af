"""Stage 1: YAML text -> raw Python documents, read the way Docker Compose (go-yaml v3) reads them.

Docker Compose decodes with go-yaml v3, whose plain-scalar rules are YAML 1.2 (core schema):
`yes`, `on`, `1:20` stay strings, `0777` is octal, `1_000` is 1000. PyYAML implements YAML 1.1,
so this module brings its own resolver; the C parser still does the heavy lifting (1000
services load in well under a second).

`!reset` and `!override` come back as `Reset`/`Override` markers for `reset.py`.
Positions are not kept on the happy path: `line_of()` re-composes the text only when an error
needs a line number.
"""
from __future__ import annotations

import re
from collections import OrderedDict

import yaml as pyyaml

from dekube_nspawn.errors import ComposeFileError

try:  # the C parser is ~10x faster; fall back to the pure Python one where libyaml is missing
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.parser import Parser as _Parser  # type: ignore
    from yaml.reader import Reader as _Reader  # type: ignore
    from yaml.scanner import Scanner as _Scanner  # type: ignore
    from yaml.composer import Composer as _Composer  # type: ignore
    _C = False
else:
    _C = True

# An expanded document bigger than this is an alias bomb, not a compose file. go-yaml refuses
# "excessive aliasing" the same way; legitimate files stay orders of magnitude below.
MAX_EXPANDED_NODES = 5_000_000
# Nodes that aliases add on top of the text's own nodes. Every later stage walks the expanded
# tree (several microseconds per node each), so this bounds the time and memory an alias can
# cost; a big file without aliases is bounded by its text instead. Docker Compose itself does not
# finish a 1M-node alias document within a minute; real files alias a few hundred nodes.
MAX_ALIAS_ADDED_NODES = 250_000


class Reset:
    """`!reset` in an override file: drop what earlier files said at this path."""
    __slots__ = ("value",)

    def __init__(self, value=None):
        self.value = value

    def __repr__(self):
        return f"Reset({self.value!r})"


class Override:
    """`!override` in an override file: replace, instead of merge, what earlier files said."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"Override({self.value!r})"

    def __eq__(self, other):
        return isinstance(other, Override) and other.value == self.value


# --- YAML 1.2 core schema resolution, as go-yaml v3 does it -------------------------------------

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_TS_TAG = "tag:yaml.org,2002:timestamp"

_SIGN_OR_DIGIT = frozenset("+-0123456789")
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
    "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def _go_parse_int(text: str):
    """strconv.ParseInt(text, 0, 64) after go-yaml strips underscores; None when it fails."""
    s = text.replace("_", "")
    sign = 1
    if s and s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if not s:
        return None
    low = s.lower()
    try:
        if low.startswith("0x"):
            v = int(s[2:], 16)
        elif low.startswith("0o"):
            v = int(s[2:], 8)
        elif low.startswith("0b"):
            v = int(s[2:], 2)
        elif len(s) > 1 and s[0] == "0":
            v = int(s[1:], 8)
        else:
            if not s.isdigit():
                return None
            v = int(s, 10)
    except ValueError:
        return None
    if s[2:3] in ("", "+", "-") and low[:2] in ("0x", "0o", "0b"):
        return None
    v *= sign
    if _INT64_MIN <= v <= _UINT64_MAX:
        return v
    return None


def resolve_plain(value: str):
    """The tag go-yaml v3 gives an untagged plain scalar."""
    if value in ("", "~", "null", "Null", "NULL"):
        return _NULL_TAG
    if value in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return _BOOL_TAG
    if value in _SPECIAL_FLOATS:
        return _FLOAT_TAG
    # go-yaml hints on the first character only: a sign or a digit may start an int, a float
    # (underscores dropped) or a timestamp; a dot only a float as strconv.ParseFloat reads it;
    # anything else (`_1`) is a string.
    if value[0] in _SIGN_OR_DIGIT:
        if _TIMESTAMP.match(value):
            return _TS_TAG
        if _go_parse_int(value) is not None:
            return _INT_TAG
        if _YAML_FLOAT.match(value.replace("_", "")):
            return _FLOAT_TAG
    elif value[0] == "." and _float_or_none(value) is not None:
        return _FLOAT_TAG
    return "tag:yaml.org,2002:str"


def _float_or_none(text):
    """strconv.ParseFloat: Python's float() reads the same decimal syntax, underscores between
    digits included (`.5_0`, not `._5`)."""
    try:
        return float(text)
    except ValueError:
        return None


class _Resolver(pyyaml.resolver.BaseResolver):
    yaml_implicit_resolvers: dict = {}

    def resolve(self, kind, value, implicit):
        if kind is pyyaml.ScalarNode and implicit[0]:
            if value == "<<":
                return "tag:yaml.org,2002:merge"
            return resolve_plain(value)
        return super().resolve(kind, value, implicit)


class _Constructor(pyyaml.constructor.SafeConstructor):
    """Safe construction plus: duplicate keys refused, compose's tags kept as markers."""

    def construct_yaml_int(self, node):
        value = _go_parse_int(node.value)
        if value is None:  # only an explicit `!!int` gets here
            raise pyyaml.constructor.ConstructorError(
                None, None, f"cannot decode `{node.value}` as an !!int", node.start_mark)
        return value

    def construct_yaml_float(self, node):
        if node.value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[node.value]
        try:
            return float(node.value.replace("_", ""))
        except ValueError:
            raise pyyaml.constructor.ConstructorError(
                None, None, f"cannot decode `{node.value}` as a !!float", node.start_mark) from None

    def construct_yaml_binary(self, node):
        # go-yaml hands base64 scalars over as the decoded string
        return super().construct_yaml_binary(node).decode("utf-8", errors="replace")

    def construct_unknown_local_tag(self, suffix, node):
        """go-yaml ignores application tags it does not know (`!custom x` is just `x`)."""
        if isinstance(node, pyyaml.MappingNode):
            return self.construct_yaml_map_now(node)
        if isinstance(node, pyyaml.SequenceNode):
            return self.construct_sequence(node, deep=True)
        return self.construct_plain(node)

    def construct_yaml_bool(self, node):
        return node.value.lower() == "true"

    def construct_mapping(self, node, deep=False):
        if isinstance(node, pyyaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value if isinstance(key_node, pyyaml.ScalarNode) else None
                if key is None:
                    continue
                if key in seen:
                    first = seen[key]
                    raise _DuplicateKey(key, first.start_mark, key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_reset(self, node):
        return Reset()

    def construct_override(self, node):
        if isinstance(node, pyyaml.MappingNode):
            value = self.construct_yaml_map_now(node)
        elif isinstance(node, pyyaml.SequenceNode):
            value = self.construct_sequence(node, deep=True)
        else:
            value = self.construct_plain(node)
        return Override(value)

    def construct_yaml_map_now(self, node):
        self.flatten_mapping(node)
        return self.construct_mapping(node, deep=True)

    def construct_plain(self, node):
        tag = resolve_plain(node.value) if node.style is None else "tag:yaml.org,2002:str"
        ctor = self.yaml_constructors.get(tag)
        return ctor(self, node) if ctor else node.value


_Constructor.add_constructor(_INT_TAG, _Constructor.construct_yaml_int)
_Constructor.add_constructor(_FLOAT_TAG, _Constructor.construct_yaml_float)
_Constructor.add_constructor(_BOOL_TAG, _Constructor.construct_yaml_bool)
_Constructor.add_constructor("tag:yaml.org,2002:binary", _Constructor.construct_yaml_binary)
_Constructor.add_multi_constructor("!", _Constructor.construct_unknown_local_tag)
_Constructor.add_constructor("!reset", _Constructor.construct_reset)
_Constructor.add_constructor("!override", _Constructor.construct_override)


class _DuplicateKey(Exception):
    def __init__(self, key, first_mark, mark):
        super().__init__(key)
        self.key, self.first_mark, self.mark = key, first_mark, mark


if _C:
    class _Loader(_Parser, _Constructor, _Resolver):
        def __init__(self, stream):
            _Parser.__init__(self, stream)
            _Constructor.__init__(self)
            _Resolver.__init__(self)
else:  # pragma: no cover
    class _Loader(_Reader, _Scanner, _Parser, _Composer, _Constructor, _Resolver):
        def __init__(self, stream):
            _Reader.__init__(self, stream)
            _Scanner.__init__(self)
            _Parser.__init__(self)
            _Composer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)


# --- fast path: plain documents built straight from the C parser's events -----------------------
#
# Composing nodes (a Python resolver call and two Mark objects per node) and running them through
# SafeConstructor (tag lookup, generators for deep construction, flatten_mapping) costs ~6x the C
# parse itself. Almost every compose file uses only untagged scalars, mappings, sequences and
# anchors, so `_fast_documents` builds those directly from the event stream, checking duplicate
# and non-string keys as it goes. Anything else (an explicit tag other than !!str/!!map/!!seq, a
# merge key `<<`, a timestamp, a non-string or duplicate key, an undefined, duplicate or recursive
# anchor, deep nesting, any parse error) raises `_Unsupported` or the parser's own error, and
# `parse_documents` re-reads the text with the full `_Loader` above, which gives the result or the
# error exactly as before. Tags are resolved as CParser does: none or `!` -> resolver.

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
# Deeper documents take the full loader, so that its recursion limit (and message) still apply.
_FAST_MAX_DEPTH = 64


class _Unsupported(Exception):
    pass


# Most plain scalars are words that `resolve_plain` would call strings after several tests;
# these two sets answer that in two lookups (the first character decides, as in go-yaml).
_MAY_NOT_BE_STR_FIRST = _SIGN_OR_DIGIT | {".", ""}
_NON_STR_WORDS = frozenset(("~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
                            "FALSE", *_SPECIAL_FLOATS))


def _plain(value):
    """The value go-yaml gives an untagged plain scalar (what `_Constructor` builds for it)."""
    if value[:1] not in _MAY_NOT_BE_STR_FIRST and value not in _NON_STR_WORDS:
        if value == "<<":
            raise _Unsupported  # merge key
        return value
    tag = resolve_plain(value)
    if tag == "tag:yaml.org,2002:str":
        if value == "<<":
            raise _Unsupported  # merge key
        return value
    if tag == _NULL_TAG:
        return None
    if tag == _BOOL_TAG:
        return value.lower() == "true"
    if tag == _INT_TAG:
        return _go_parse_int(value)
    if tag == _FLOAT_TAG:
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        return float(value.replace("_", ""))
    raise _Unsupported  # timestamps


_NO_KEY = object()  # a mapping frame waiting for its next key


def _fast_documents(text: str):
    """[(document, whether `_refuse_alias_bomb` must look at it)] for `text`, or `_Unsupported` / a YAML error (see above)."""
    E = pyyaml.events
    Scalar, MapStart, SeqStart, Alias = E.ScalarEvent, E.MappingStartEvent, E.SequenceStartEvent, E.AliasEvent
    MapEnd, SeqEnd, DocEnd, StreamEnd = E.MappingEndEvent, E.SequenceEndEvent, E.DocumentEndEvent, E.StreamEndEvent
    parser = _Parser(text)
    get_event = parser.get_event
    out = []
    try:
        get_event()  # StreamStartEvent
        while get_event().__class__ is not StreamEnd:  # DocumentStartEvent
            anchors: dict = {}   # name -> [value, complete]
            aliased = False
            nodes = 0
            stack: list = []     # [container, pending key or _NO_KEY, anchor entry or None]
            root = None
            while True:
                event = get_event()
                cls = event.__class__
                nodes += 1  # (end events too: an upper bound is enough)
                if cls is Scalar:
                    tag = event.tag
                    if tag is None or tag == "!":
                        value = event.value
                        # _plain's first test inline: most plain scalars are words it keeps.
                        if event.implicit[0] and (value[:1] in _MAY_NOT_BE_STR_FIRST or
                                                  value in _NON_STR_WORDS or value == "<<"):
                            value = _plain(value)
                    elif tag == _STR_TAG:
                        value = event.value
                    else:
                        raise _Unsupported
                    if event.anchor is not None:
                        if event.anchor in anchors:
                            raise _Unsupported
                        anchors[event.anchor] = [value, True]
                elif cls is MapStart or cls is SeqStart:
                    if event.tag not in (_MAP_TAGS if cls is MapStart else _SEQ_TAGS):
                        raise _Unsupported
                    if len(stack) >= _FAST_MAX_DEPTH:
                        raise _Unsupported
                    container = {} if cls is MapStart else []
                    entry = None
                    if event.anchor is not None:
                        if event.anchor in anchors:
                            raise _Unsupported
                        entry = anchors[event.anchor] = [container, False]
                    stack.append([container, _NO_KEY, entry])
                    continue
                elif cls is MapEnd or cls is SeqEnd:
                    value, _key, entry = stack.pop()
                    if entry is not None:
                        entry[1] = True
                elif cls is Alias:
                    entry = anchors.get(event.anchor)
                    if entry is None or not entry[1]:
                        raise _Unsupported  # undefined, or refers to a node that contains it
                    value = entry[0]
                    aliased = True
                elif cls is DocEnd:
                    break
                else:  # pragma: no cover
                    raise _Unsupported
                if not stack:
                    root = value
                    continue
                frame = stack[-1]
                container = frame[0]
                if container.__class__ is list:
                    container.append(value)
                elif frame[1] is _NO_KEY:
                    if value.__class__ is not str or value in container:
                        raise _Unsupported  # the full loader reports it with its position
                    frame[1] = value
                else:
                    container[frame[1]] = value
                    frame[1] = _NO_KEY
            out.append((root, aliased or nodes > MAX_EXPANDED_NODES))
    finally:
        parser.dispose()
    return out


# Documents built by the fast path: their keys are all strings and they hold no Reset/Override
# markers, so `is_plain()` lets the pipeline skip the walks that check for those. Holding the
# document keeps its id from being reused.
_PLAIN_DOCS: "OrderedDict[int, object]" = OrderedDict()


def is_plain(doc) -> bool:
    """True when `doc` (a document `parse_documents` returned) is known to have only string keys
    and no `!reset`/`!override` markers."""
    return _PLAIN_DOCS.get(id(doc)) is doc


# --- public API ---------------------------------------------------------------------------------

# Texts parsed recently, so that later stages can point at a line without re-reading files
# (and so that stdin, which can be read only once, keeps working).
_TEXTS: "OrderedDict[str, str]" = OrderedDict()
_TEXTS_KEPT = 64


def _remember(filename: str, text: str) -> None:
    _TEXTS[filename] = text
    _TEXTS.move_to_end(filename)
    while len(_TEXTS) > _TEXTS_KEPT:
        _TEXTS.popitem(last=False)


def parse_documents(text: str, filename: str) -> list:
    """Every YAML document of `text`, in order (Compose merges them like successive files).

    Empty documents are skipped. Raises `ComposeFileError` with file, line and column."""
    _remember(filename, text)
    if _C:
        try:
            built = _fast_documents(text)
        except (_Unsupported, pyyaml.YAMLError, ValueError, RecursionError):
            pass  # the full loader below gives the same result, or the error with its position
        else:
            docs = []
            for doc, needs_count in built:
                if doc is None:
                    continue
                # Without aliases the document is a tree of as many nodes as the parser gave
                # events, so the alias-bomb count has nothing to find unless that is already big.
                if needs_count:
                    _refuse_alias_bomb(doc, filename)
                if isinstance(doc, dict):
                    _PLAIN_DOCS[id(doc)] = doc
                    while len(_PLAIN_DOCS) > _TEXTS_KEPT:
                        _PLAIN_DOCS.popitem(last=False)
                docs.append(doc)
            return docs
    loader = _Loader(text)
    docs = []
    try:
        while loader.check_data():
            doc = loader.get_data()
            if doc is not None:
                _refuse_alias_bomb(doc, filename)
                docs.append(doc)
    except _DuplicateKey as e:
        raise ComposeFileError(
            f'mapping key "{e.key}" already defined at line {e.first_mark.line + 1}',
            file=filename, line=e.mark.line + 1, column=e.mark.column + 1) from None
    except pyyaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p)
        raise ComposeFileError(f"invalid YAML: {problem}", file=filename,
                               line=mark.line + 1 if mark else None,
                               column=mark.column + 1 if mark else None) from None
    except pyyaml.YAMLError as e:
        raise ComposeFileError(f"invalid YAML: {e}", file=filename) from None
    except ValueError as e:  # e.g. a timestamp PyYAML cannot build
        raise ComposeFileError(f"invalid YAML value: {e}", file=filename) from None
    except RecursionError:
        raise ComposeFileError("the document nests too deeply to be read", file=filename) from None
    finally:
        loader.dispose()
    return docs


def parse(text: str, filename: str):
    """One mapping for a single-document file (empty file -> {}); kept for simple callers."""
    docs = parse_documents(text, filename)
    if not docs:
        return {}
    if len(docs) > 1:
        raise ComposeFileError("expected a single YAML document", file=filename)
    return docs[0]


def _refuse_alias_bomb(doc, filename: str) -> None:
    """Count the nodes the document would have once every alias is expanded, without
    expanding: shared objects are sized once (memoized on identity), so the work is linear.
    The nodes of each shared object counted once are the text's own; the rest come from aliases."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    own = 1

    def size(obj) -> int:
        nonlocal own
        key = id(obj)
        if key in sizes:
            return sizes[key]
        own += len(obj)
        if key in visiting:
            raise ComposeFileError("a YAML alias refers to a node that contains it", file=filename)
        visiting.add(key)
        children = obj.values() if isinstance(obj, dict) else obj
        total = 1
        for c in children:
            total += size(c) if isinstance(c, (dict, list)) else 1
        visiting.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise ComposeFileError(
                f"the document expands to more than {MAX_EXPANDED_NODES} nodes through YAML "
                "aliases (an alias bomb?); refusing to expand it", file=filename)
        sizes[key] = total
        return total

    if isinstance(doc, (dict, list)):
        total = size(doc)
        if total - own > MAX_ALIAS_ADDED_NODES:
            raise ComposeFileError(
                f"YAML aliases expand the document by {total - own} nodes (more than "
                f"{MAX_ALIAS_ADDED_NODES}: an alias bomb?); refusing to expand it", file=filename)


def line_of(source: str, key_path) -> tuple[int | None, int | None]:
    """(line, column), 1-based, of the deepest node of `key_path` found in `source`.

    `source` is a file name seen by `parse_documents` (or readable from disk), or YAML text.
    Costs one extra composition: call it on error paths only."""
    _depth, line, column = locate(source, key_path)
    return line, column


def locate(source: str, key_path) -> tuple[int, int | None, int | None]:
    """(how many parts of `key_path` were found, line, column) in `source`: lets a caller
    holding several files pick the one that really defines the path."""
    text = _TEXTS.get(source)
    if text is None:
        if "\n" not in source:
            try:
                with open(source, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                return 0, None, None
        else:
            text = source
    try:
        nodes = list(pyyaml.compose_all(text, Loader=_ComposeOnly))
    except pyyaml.YAMLError:
        return 0, None, None
    best = (0, None, None)
    for root in nodes:
        found = _walk(root, list(key_path or ()))
        if found[0] >= best[0]:
            best = found
    return best


class _ComposeOnly(pyyaml.SafeLoader):
    pass


def _walk(node, path):
    depth = 0
    where = (node.start_mark.line + 1, node.start_mark.column + 1)
    for part in path:
        if isinstance(node, pyyaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, pyyaml.ScalarNode) and k.value == str(part):
                    where = (k.start_mark.line + 1, k.start_mark.column + 1)
                    node = v
                    break
            else:
                break
        elif isinstance(node, pyyaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            where = (node.start_mark.line + 1, node.start_mark.column + 1)
        elif isinstance(node, pyyaml.SequenceNode) and isinstance(part, str):
            # short syntax: `depends_on: [db]` is `depends_on.db` once normalized
            item = next((n for n in node.value if isinstance(n, pyyaml.ScalarNode) and n.value == part), None)
            if item is None:
                break
            node = item
            where = (node.start_mark.line + 1, node.start_mark.column + 1)
        else:
            break
        depth += 1
    return (depth,) + where
