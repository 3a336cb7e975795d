"""Run every benchmark and print its figures (medians over repeats)."""

from __future__ import annotations

from bench import drift, register_to_serving, scoring


def main() -> None:
    register_to_serving.main()
    scoring.main()
    drift.main([])


if __name__ == "__main__":
    main()
