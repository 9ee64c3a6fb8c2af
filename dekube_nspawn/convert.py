"""Conversion entry point: Project -> IR (plan) -> rendered files -> output directory."""
from __future__ import annotations

from dataclasses import dataclass

from dekube_nspawn.errors import DekubeError


@dataclass(frozen=True)
class ConvertOptions:
    output_dir: str
    check: bool = False
    bridge: str | None = None
    subnets: tuple[str, ...] = ()
    resolve_images: bool = False

    @classmethod
    def from_args(cls, args) -> "ConvertOptions":
        return cls(output_dir=args.output_dir, check=args.check, bridge=args.bridge,
                   subnets=tuple(args.subnet), resolve_images=args.resolve_images)


def convert_to_directory(project, options: ConvertOptions, diagnostics) -> int:
    raise DekubeError("convert: the emitters are not implemented yet; the project was loaded and "
                      "validated (use `config` to see it)")
