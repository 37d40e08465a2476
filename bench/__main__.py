"""Run the benchmarks side by side and print their figures: `python -m bench --help`."""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

from mesh_platform.dev.sample_data import generate

# Benchmarks with their own options (`python -m bench.NAME --help`), run here with defaults.
STANDALONE = ("commands", "catalog", "impact", "web", "masking", "spark", "versions")
ALL = ("engines", "security", "quality", "startup", "overhead", *STANDALONE)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        default=list(ALL),
        help=f"benchmarks to run (default: all): {', '.join(ALL)}; each of "
        f"{', '.join(STANDALONE)} also runs alone with its options: python -m bench.NAME --help",
    )
    parser.add_argument(
        "--scale", type=float, default=None, help="TPC-H scale (default 1; overhead --quick: 0.01)"
    )
    parser.add_argument(
        "--part",
        type=lambda text: [int(p) for p in text.split(",")],
        default=[1, 2, 3, 4, 5],
        help="overhead: parts to run, e.g. 2 or 1,3 (default all)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="overhead: 2 repeats, 50 products, small scales"
    )
    parser.add_argument(
        "--scale-10", action="store_true", help="overhead part 4: also scale factor 10"
    )
    parser.add_argument(
        "--scale-30", action="store_true", help="overhead part 4: also scale factor 30"
    )
    parser.add_argument("--data", type=Path, help="reuse TPC-H parquet in this folder")
    parser.add_argument("--values", type=int, default=1_000_000, help="security: values")
    parser.add_argument("--repeat", type=int, default=5, help="startup: runs per command")
    parser.add_argument(
        "--domains",
        type=lambda text: [int(k) for k in text.split(",")],
        default=[2, 10, 50],
        help="startup: numbers of domains of the generated meshes (default 2,10,50)",
    )
    args = parser.parse_args()
    if args.scale is None:
        args.scale = 0.01 if args.quick and args.names == ["overhead"] else 1.0
    landing = args.data or Path(tempfile.gettempdir()) / f"mesh-bench-tpch-{args.scale}"
    if {"engines", "quality"} & set(args.names):  # the security benchmark makes its own values
        generate(landing, args.scale)
    for name in args.names:
        if name == "engines":
            from bench import engines

            print(f"== engines: TPC-H scale {args.scale} ({landing})")
            print(engines.report(engines.run(landing)))
        elif name == "security":
            from bench import security

            print(f"== security: {args.values:,} distinct values, 1 thread")
            print(security.report(security.run(args.values)))
        elif name == "quality":
            from bench import quality

            print(f"== quality: TPC-H scale {args.scale} ({landing})")
            print(quality.report(quality.run(landing)))
        elif name == "startup":
            from bench import startup

            sizes = ", ".join(map(str, args.domains))
            print(f"== startup: mesh CLI on the demo mesh; one location among {sizes} domains")
            print(startup.report(startup.run(args.repeat, args.domains)))
        elif name == "overhead":
            from bench import overhead

            def landing_for(scale: float) -> Path:
                folder = Path(tempfile.gettempdir()) / f"mesh-bench-tpch-{scale}"
                generate(folder, scale)
                return folder

            scales = [0.01, 0.1] if args.quick else [0.1, 1.0]
            if args.scale_10:
                scales.append(10.0)
            if args.scale_30:
                scales.append(30.0)
            parts = ", ".join(map(str, args.part))
            print(f"== overhead: parts {parts}; TPC-H scale {args.scale}; part 4 scales {scales}")
            results = overhead.run(args.part, args.scale, args.quick, landing_for, scales)
            print(overhead.report(results))
        elif name in STANDALONE:
            print(f"== {name}: python -m bench.{name} (defaults)", flush=True)
            sys.argv = [f"bench.{name}"]
            importlib.import_module(f"bench.{name}").main()
        else:
            parser.error(f"unknown benchmark {name!r}")


if __name__ == "__main__":
    main()
