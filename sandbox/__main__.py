"""``python -m sandbox``: the same as ``make demo`` (see sandbox/demo.py for the options)."""

from sandbox.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
