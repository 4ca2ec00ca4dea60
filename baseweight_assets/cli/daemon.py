"""``dagster-daemon run`` with a shorter backfill loop interval (see ``dagster_services.BACKFILL_INTERVAL_S``).

Usage: ``python -m baseweight_assets.cli.daemon --interval 2 -w workspace.yaml``. Everything else is the stock
daemon: same CLI, same instance, same backfill and queue logic.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="baseweight-daemon")
    parser.add_argument("--interval", type=float, required=True, help="seconds between backfill iterations")
    args, rest = parser.parse_known_args(argv)
    import dagster._daemon.controller as controller

    if not hasattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS"):
        raise SystemExit("dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS is gone: this dagster "
                         "release changed how the backfill daemon sleeps; update baseweight_assets/cli/daemon.py")
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = args.interval
    from dagster._daemon.cli import main as daemon_cli

    sys.argv = ["dagster-daemon", "run", *rest]
    daemon_cli()


if __name__ == "__main__":
    main()
