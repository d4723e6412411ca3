"""``python -m fastbackprop.demo``: the spiral demo, the same as
``fastbackprop demo spiral`` (extra arguments such as ``--plot out.png``
are passed on)."""

import sys

from .cli import main


def run(argv=None) -> int:
    """Run the spiral demo with ``argv`` (default ``sys.argv[1:]``) appended."""
    extra = sys.argv[1:] if argv is None else list(argv)
    return main(["demo", "spiral", *extra])


if __name__ == "__main__":
    sys.exit(run())
