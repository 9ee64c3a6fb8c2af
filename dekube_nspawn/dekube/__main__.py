"""python -m dekube_nspawn.dekube install-extension DIR [--force]

Writes the file that makes dekube (`--extensions-dir DIR`) run the nspawn transform.
Exit codes: 0 ok, 1 the file could not be written, 2 usage error.
"""
from __future__ import annotations

import argparse
import sys

from dekube_nspawn.errors import DekubeError, UsageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dekube_nspawn.dekube",
                                     description="dekube extension of dekube-nspawn")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = sub.add_parser("install-extension", help="write the transform into a dekube extensions dir")
    p.add_argument("extensions_dir", metavar="DIR", help="the directory dekube's --extensions-dir names")
    p.add_argument("--force", action="store_true", help="replace a file of the same name")
    args = parser.parse_args(argv)
    from dekube_nspawn.dekube.install import install_extension
    try:
        path = install_extension(args.extensions_dir, force=args.force)
    except UsageError as e:
        print(f"dekube-nspawn: error: {e}", file=sys.stderr)
        return 2
    except (DekubeError, OSError) as e:
        print(f"dekube-nspawn: error: {e}", file=sys.stderr)
        return 1
    print(f"Wrote {path}; run dekube with --extensions-dir {args.extensions_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
