"""Prints what bench/writer_hold/sitecustomize.py recorded in a `veriscan serve` process."""

import ast
import itertools
import sys
from pathlib import Path
from typing import Any


def main(out: str) -> None:
    lines = [ast.literal_eval(line) for line in Path(out).read_text().splitlines()]
    servers: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        if line["argv"].startswith("serve"):  # one `veriscan serve` process each
            servers.setdefault(line["pid"], []).append(line)
    for pid, seconds in servers.items():
        print(f"veriscan serve, pid {pid}")
        print(
            "second  taken  background  held   per hold   CPU  run delay  switches"
            "  (a hold's, on its thread)  waited in line"
        )
        for second, (before, after) in enumerate(itertools.pairwise(seconds), 1):
            taken = after["taken"] - before["taken"]
            if not taken:
                continue
            span = after["now"] - before["now"]
            held = after["held"] - before["held"]
            same = max(1, after["same"] - before["same"])
            print(
                f"{second:6d} {taken:6d} {after['background'] - before['background']:11d}"
                f" {held / span:6.1%} {held / taken * 1000:7.2f} ms"
                f" {(after['cpu'] - before['cpu']) / same * 1000:5.2f} ms"
                f" {(after['run_delay'] - before['run_delay']) / same * 1000:6.2f} ms"
                f" {(after['switches'] - before['switches']) / same:9.1f}"
                f" {(after['waited'] - before['waited']) / taken * 1000:34.2f} ms"
            )
        statements_file = Path(f"{out}.{pid}.statements")
        if not statements_file.exists():
            continue
        statements = ast.literal_eval(statements_file.read_text())
        print("\nstatements run while a request held the writer:")
        for text, (count, wall, cpu) in sorted(statements.items(), key=lambda kv: -kv[1][1]):
            wall_ms, cpu_ms = wall / count * 1000, cpu / count * 1000
            print(f"{count:7d}  wall {wall_ms:6.3f} ms  CPU {cpu_ms:6.3f} ms  {text}")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
