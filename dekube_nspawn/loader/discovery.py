"""Where the project is: its compose files, directory, environment, profiles and name.

Docker Compose's CLI order (compose-go cli/options.go, docker/compose ToProjectOptions):
process environment (always wins) + PWD -> `.env` of the working directory (or `--env-file`s /
COMPOSE_ENV_FILES) -> COMPOSE_FILE -> default file search (cwd, then parents) -> `.env` of the
project directory if it differs -> COMPOSE_PROFILES -> name (`-p` > COMPOSE_PROJECT_NAME >
top-level `name:` > directory basename).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from dekube_nspawn.errors import ComposeFileError, UsageError
from dekube_nspawn.loader import dotenv

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = ("compose.override.yaml", "compose.override.yml",
                  "docker-compose.override.yaml", "docker-compose.override.yml")


@dataclass
class Located:
    files: list[str]            # absolute paths, "-" for stdin
    project_dir: str            # absolute
    environment: dict[str, str]  # the environment interpolation reads
    profiles: list[str]
    name_from_cli: str | None   # -p or COMPOSE_PROJECT_NAME: must already be normalized
    warnings: list[str]


def normalize_project_name(name: str) -> str:
    """Lowercase, keep `[a-z0-9_-]`, strip leading `_`/`-` (compose-go NormalizeProjectName)."""
    return "".join(re.findall(r"[a-z0-9_-]", name.lower())).lstrip("_-")


def check_imperative_name(name: str, from_cli: bool = True) -> str:
    """-p (a usage error, exit 2) and COMPOSE_PROJECT_NAME (bad input, exit 1) are taken as
    they are, so they must already be normalized."""
    if normalize_project_name(name) != name:
        error = UsageError if from_cli else ComposeFileError
        where = "" if from_cli else " (from COMPOSE_PROJECT_NAME)"
        raise error(
            f'invalid project name "{name}"{where}: must consist only of lowercase alphanumeric '
            "characters, hyphens, and underscores as well as start with a letter or number")
    return name


def find_default_files(start: str, warnings: list | None = None) -> list[str]:
    """compose.yaml (or its aliases) in `start` or the nearest parent, plus its override file.
    Several candidates in one directory: the first wins, with a warning (as in Compose)."""
    d = os.path.abspath(start)
    while True:
        found = [os.path.join(d, n) for n in DEFAULT_FILES if os.path.isfile(os.path.join(d, n))]
        if found:
            overrides = [os.path.join(d, n) for n in OVERRIDE_FILES if os.path.isfile(os.path.join(d, n))]
            for candidates in (found, overrides):
                if len(candidates) > 1 and warnings is not None:
                    warnings.append(f"Found multiple config files with supported names: "
                                    f"{', '.join(candidates)}; using {candidates[0]}")
            return [found[0]] + overrides[:1]
        parent = os.path.dirname(d)
        if parent == d:
            raise ComposeFileError(
                "no configuration file provided: not found (looked for "
                + ", ".join(DEFAULT_FILES) + f" in {os.path.abspath(start)} and its parents)")
        d = parent


def _dotenv_files(env_files, environ, workdir) -> list[str]:
    if env_files:
        return list(env_files)
    from_env = environ.get("COMPOSE_ENV_FILES")
    if from_env:
        return from_env.split(",")
    default = os.path.join(workdir, ".env")
    return [default] if os.path.isfile(default) else []


def _absolutize(path: str, cwd: str) -> str:
    return path if path == "-" else os.path.abspath(os.path.join(cwd, os.path.expanduser(path)))


def locate(options) -> Located:
    cwd = os.path.abspath(options.cwd)
    environment = dict(options.environ)
    environment["PWD"] = cwd
    env_files = [_absolutize(f, cwd) for f in options.env_files]
    project_dir = (_absolutize(options.project_directory, cwd)
                   if options.project_directory else None)

    def workdir(files):
        if project_dir:
            return project_dir
        for f in files:
            if f != "-":
                return os.path.dirname(f)
        return cwd

    def load_dotenv(files):
        from_files = dotenv.load_project_env(
            [_absolutize(f, cwd) for f in _dotenv_files(env_files, environment, workdir(files))],
            environment)
        for k, v in from_files.items():
            environment.setdefault(k, v)

    files = [_absolutize(f, cwd) for f in options.files]
    load_dotenv(files)
    if not files and environment.get("COMPOSE_FILE"):
        sep = environment.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        files = [_absolutize(f, cwd) for f in environment["COMPOSE_FILE"].split(sep) if f]
    warnings: list[str] = []
    if not files:
        files = find_default_files(project_dir or cwd, warnings)
    load_dotenv(files)

    profiles = list(options.profiles)
    if not profiles and environment.get("COMPOSE_PROFILES"):
        profiles = [p for p in environment["COMPOSE_PROFILES"].split(",") if p]

    name = options.project_name or environment.get("COMPOSE_PROJECT_NAME") or None
    if name is not None:
        check_imperative_name(name, from_cli=bool(options.project_name))
    return Located(files=files, project_dir=workdir(files), environment=environment,
                   profiles=profiles, name_from_cli=name, warnings=warnings)
