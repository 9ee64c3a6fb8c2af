"""Schema validation of one compose file against the Compose Specification (compose-go validate).

The schema is the one vendored by the installed `check-jsonschema` package, read in place. Two
validators, for two jobs: fastjsonschema (compiled once per process, the compiled code cached on
disk) answers "valid?" fast on every load; only when it says no does jsonschema walk the document
again to find the most precise error and turn it into one human sentence with file, line and
key path ("services.web: unknown key 'imgae'").
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import marshal
import os
import re
import sys
import tempfile

from dekube_nspawn.cache import cache_directory
from dekube_nspawn.errors import ComposeFileError

_SCHEMA_PACKAGE = "check_jsonschema"
_SCHEMA_PATH = ("builtin_schemas", "vendor", "compose-spec.json")

_schema = None
_fast_validate = None
_REWRITE_VERSION = "4"  # bump when the rewrite of the generated code changes (_without_unevaluated,
                        # _without_locals, _Lean): it is part of the cache key


def schema_text() -> str:
    """The schema file of the installed check-jsonschema, found without importing the package
    (importing it pulls in its CLI stack: ~0.4 s of every run)."""
    spec = importlib.util.find_spec(_SCHEMA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ComposeFileError("the Compose Specification schema is missing: install check-jsonschema")
    path = os.path.join(list(spec.submodule_search_locations)[0], *_SCHEMA_PATH)
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def schema() -> dict:
    global _schema
    if _schema is None:
        _schema = json.loads(schema_text())
    return _schema


def validate_file(doc, filename: str | None, keys_checked: bool = False) -> None:
    """Raise ComposeFileError when `doc` (one file, interpolated) breaks the schema.
    `keys_checked`: every key is known to be a string already (the YAML reader's fast path)."""
    if not isinstance(doc, dict):
        raise ComposeFileError("top-level object must be a mapping", file=filename)
    if not keys_checked:
        _check_keys_are_strings(doc, (), filename)
    try:
        _fast()(doc)
        return
    except Exception as fast_error:  # fastjsonschema.JsonSchemaValueException, or its own limits
        precise = _precise_error(doc)
        if precise is None:
            # The two validators disagree (fastjsonschema is stricter on a few formats): trust
            # the reference implementation.
            if _is_fast_exception(fast_error):
                return
            raise
    path, message, where = precise
    raise _located(message, filename, path, where)


def _located(message: str, filename, path, where=None) -> ComposeFileError:
    """`where` is the node to point the line at when it is deeper than `path` (an unknown key)."""
    line = column = None
    if filename and (where or path):
        try:
            from dekube_nspawn.loader.yaml import line_of
            line, column = line_of(filename, where or path)
        except Exception:  # a position is a courtesy; the key path already locates the problem
            line = column = None
    return ComposeFileError(message, file=filename, line=line, column=column, key_path=path)


def _check_keys_are_strings(node, path, filename) -> None:
    """YAML allows `123:` as a key; Compose does not (`non-string key in services: 123`)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise _located(f"non-string key {key!r}: keys must be strings (quote it)", filename, path)
            if isinstance(value, (dict, list)):  # no call (and no path tuple) for the leaves
                _check_keys_are_strings(value, path + (key,), filename)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                _check_keys_are_strings(value, path + (i,), filename)


# --- the fast validator --------------------------------------------------------------------------

class _FastInvalid(ValueError):
    """What the generated validator raises: it stands in for fastjsonschema's own exception
    classes, whose package import (the whole code generator) costs ~20 ms of every run."""

    def __init__(self, *args, **_details):
        super().__init__(*args)


def _is_fast_exception(e: Exception) -> bool:
    return isinstance(e, _FastInvalid)


def _fast():
    global _fast_validate
    if _fast_validate is None:
        _fast_validate = _load_compiled()
    return _fast_validate


_GENERATED_IMPORT = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"


def _generator_version() -> str:
    """The installed fastjsonschema's version file, read without importing the package."""
    spec = importlib.util.find_spec("fastjsonschema")
    if spec is None or not spec.submodule_search_locations:
        raise ComposeFileError("fastjsonschema is missing: install dekube-nspawn with its dependencies")
    with open(os.path.join(list(spec.submodule_search_locations)[0], "version.py"), encoding="utf-8") as fh:
        return fh.read()


def _generate():
    """The validator's code (an AST): fastjsonschema's output without its import line, and with
    every exception it raises stripped of its arguments (see _Lean)."""
    import fastjsonschema          # the code generator: only when the cache has no validator
    source = _without_locals(fastjsonschema.compile_to_code(_without_unevaluated(schema())))
    if _GENERATED_IMPORT not in source:
        raise ComposeFileError("this fastjsonschema version generates code dekube-nspawn does not know")
    tree = _Lean().visit(ast.parse(source.replace(_GENERATED_IMPORT, "")))
    return ast.fix_missing_locations(tree)


class _Lean(ast.NodeTransformer):
    """Only "valid or not" is asked of the fast validator (jsonschema words the error), yet the
    generated code builds each exception with its message, the value, and the whole schema
    definition it broke as a dict literal, and a valid service raises ~6 of them inside
    oneOf/anyOf branches: most of the validation time. Raised bare instead."""

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _EXCEPTION_NAMES:
            return ast.copy_location(ast.Call(func=node.func, args=[], keywords=[]), node)
        return node


_EXCEPTION_NAMES = ("JsonSchemaValueException", "JsonSchemaValuesException")


def _load_compiled():
    """fastjsonschema generates ~1 MB of Python for this schema; compiling it costs ~0.3 s, loading
    the marshalled code object ~10 ms. The cache key is the schema, the generator's version and
    this module's rewrite of its output; the interpreter is in the file name."""
    key = hashlib.sha256((schema_text() + _generator_version() + _REWRITE_VERSION).encode()).hexdigest()
    directory = cache_directory()
    path = os.path.join(directory, f"compose-schema-{key[:16]}-{sys.implementation.cache_tag}.bin") \
        if directory else None
    code = None
    if path:
        try:
            with open(path, "rb") as fh:
                code = marshal.load(fh)
        except (OSError, EOFError, ValueError, TypeError):
            code = None
    if code is None:
        code = compile(_generate(), "<compose-spec validator>", "exec")
        if path:
            try:
                fd, tmp = tempfile.mkstemp(dir=directory)
                with os.fdopen(fd, "wb") as fh:
                    marshal.dump(code, fh)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only cache only costs the compile time again next run
    namespace: dict = {"JsonSchemaValueException": _FastInvalid,
                       "JsonSchemaValuesException": _FastInvalid}
    exec(code, namespace)
    name = next(k for k in namespace if k.startswith("validate") and callable(namespace[k]))
    return namespace[name]


_FORMAT_LOCALS = re.compile(r'"((?:[^"\\]|\\.)*)"\.format\(\*\*locals\(\)\)')


def _without_locals(source: str) -> str:
    """fastjsonschema builds every sub-validator's error-path prefix eagerly with
    `"...{var}".format(**locals())`; in the service validator, which has thousands of locals,
    that is 70% of the validation time. An f-string with the same placeholders is equivalent."""
    return _FORMAT_LOCALS.sub(lambda m: 'f"' + m.group(1) + '"', source)


def _without_unevaluated(root: dict) -> dict:
    """fastjsonschema knows drafts 4-7, not 2020-12's `unevaluatedProperties`. The Compose schema
    only uses it as "allOf: [$ref a, $ref b] + unevaluatedProperties: false", which means the same
    as one object with the properties of a and b and `additionalProperties: false`."""
    import copy
    root = copy.deepcopy(root)
    defs = root.get("$defs", {})

    def target(ref: str) -> dict:
        return defs[ref.rsplit("/", 1)[-1]]

    def rewrite(node):
        if isinstance(node, dict):
            if node.get("unevaluatedProperties") is False and all(
                    set(part) == {"$ref"} for part in node.get("allOf", ())):
                props = dict(node.get("properties", {}))
                patterns = dict(node.get("patternProperties", {}))
                for part in node.pop("allOf", ()):
                    spec = target(part["$ref"])
                    for key, sub in spec.get("properties", {}).items():
                        props[key] = {"allOf": [props[key], sub]} if key in props else sub
                    patterns.update(spec.get("patternProperties", {}))
                node.pop("unevaluatedProperties")
                node.update(type="object", properties=props, patternProperties=patterns,
                            additionalProperties=False)
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)
    rewrite(root)
    root["$schema"] = "http://json-schema.org/draft-07/schema#"
    return root


# --- precise errors ------------------------------------------------------------------------------

def _precise_error(doc) -> tuple[tuple, str, tuple] | None:
    import jsonschema
    validator = jsonschema.Draft202012Validator(schema())
    errors = list(validator.iter_errors(doc))
    if not errors:
        return None
    error = _deepest(errors)
    path = tuple(error.absolute_path)
    extra = _unknown_keys(error)
    return path, _message(error), path + (extra[0],) if extra else path


def _deepest(errors):
    """The error closest to what the user typed: descend into oneOf/anyOf alternatives and keep
    the one whose path goes deepest (it matched the shape the user meant)."""
    def leaves(err):
        if err.context:
            for sub in err.context:
                yield from leaves(sub)
        else:
            yield err
    candidates = [leaf for e in errors for leaf in leaves(e)]

    def rank(err):
        # deeper first; then prefer an unknown key or a missing one over a type mismatch, which
        # often only means the user picked the other alternative of a oneOf
        kind = {"additionalProperties": 0, "unevaluatedProperties": 0, "required": 1, "enum": 2, "type": 4}.get(err.validator, 3)
        return (-len(err.absolute_path), kind)
    return min(candidates, key=rank)


_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "a boolean", "null": "null"}


def _unknown_keys(err) -> list[str]:
    if err.validator not in ("additionalProperties", "unevaluatedProperties") or not isinstance(err.instance, dict):
        return []
    known = _known_keys(err.schema)
    patterns = [re.compile(p) for p in _known_patterns(err.schema)]
    return [k for k in err.instance if k not in known and not any(p.search(k) for p in patterns)]


def _known_keys(node) -> set[str]:
    keys = set(node.get("properties", {}))
    for part in node.get("allOf", ()):
        if "$ref" in part:
            keys |= set(schema()["$defs"][part["$ref"].rsplit("/", 1)[-1]].get("properties", {}))
    return keys


def _known_patterns(node) -> list[str]:
    pats = list(node.get("patternProperties", {}))
    for part in node.get("allOf", ()):
        if "$ref" in part:
            pats += list(schema()["$defs"][part["$ref"].rsplit("/", 1)[-1]].get("patternProperties", {}))
    return pats


def _message(err) -> str:
    v = err.validator
    if v in ("additionalProperties", "unevaluatedProperties"):
        extra = _unknown_keys(err) or [err.message]
        hint = _suggest(extra[0], _known_keys(err.schema))
        keys = ", ".join(f"'{k}'" for k in extra)
        return f"unknown key {keys}" + (f" (did you mean '{hint}'?)" if hint else "")
    if v == "required":
        missing = re.findall(r"'([^']*)'", err.message)
        return f"missing required key '{missing[0] if missing else err.validator_value}'"
    if v == "type":
        expected = err.validator_value
        names = [_TYPE_NAMES.get(t, t) for t in (expected if isinstance(expected, list) else [expected])]
        return f"must be {' or '.join(names)}, not {_describe(err.instance)}"
    if v == "enum":
        return f"must be one of {', '.join(repr(x) for x in err.validator_value)}, not {err.instance!r}"
    if v in ("minimum", "exclusiveMinimum"):
        return f"must be greater than or equal to {err.validator_value}"
    if v == "pattern" or v == "patternProperties":
        return f"{err.instance!r} does not match the pattern {err.validator_value!r}"
    if v == "format":
        return f"{err.instance!r} is not a valid {err.validator_value}"
    if v in ("minItems", "uniqueItems", "maxItems"):
        return err.message
    return err.message


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the string {value!r}"


def _suggest(word: str, choices) -> str | None:
    import difflib
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return match[0] if match else None
