"""reunite command line: thin commands that load config, build, run.

Exit codes: 0 every input processed; 1 some inputs failed (the rest are done and reported);
2 usage, config or model-setup error, with one line saying what and where.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from pipeline.config import ConfigError, Config, dump_yaml, load_config
from pipeline.errors import InputError, ModelError, OutputError
from pipeline.inputs import display_name


class _ExitError(click.ClickException):
    """One line on stderr and a chosen exit code, never a traceback."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        from pipeline.inputs import one_line  # a name or key with a newline stays on one line

        click.echo(f"reunite: error: {one_line(self.format_message())}", err=True)


def _config(config_file: str | None, sets: tuple[str, ...]) -> Config:
    try:
        return load_config(config_file, sets)
    except ConfigError as exc:
        raise _ExitError(f"config: {exc}", 2) from None


_config_options = [
    click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                 help="YAML config file layered over the defaults."),
    click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
                 help="Override one config key (repeatable), e.g. --set detector.confidence=0.2"),
]


def config_options(f: Any) -> Any:
    for opt in reversed(_config_options):
        f = opt(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reunite", message="reunite %(version)s")
def main() -> None:
    """reunite: find the moments that matter in seized CCTV footage."""
    # Evidence work: ultralytics must not probe the network (its import-time online check,
    # hub and settings sync). Set before anything imports it; the user may override.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    # onnxruntime (>= 1.2x on Linux) otherwise keeps a telemetry device id and an event store
    # for upload under ~/.cache/Microsoft; it reads this when first imported.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    # At exit the interpreter's last garbage collection walks every object the imports made
    # (numpy, scipy, OpenCV, onnxruntime, dlib...): ~0.1 s of every command (0.77 -> 0.67 s
    # for importing what a scan imports and exiting). Frozen objects are left to the OS.
    # Nothing of ours waits on that collection: outputs are written, closed and renamed in
    # place before the command returns, and atexit hooks still run. Registered first, run last.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


_stopped_by: list[signal.Signals] = []


def _interrupted(signum: int, _frame: Any) -> None:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does; the signal is remembered here since
    Ray's wait re-raises a KeyboardInterrupt of its own."""
    _stopped_by.append(signal.Signals(signum))
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def _sigterm_as_interrupt():  # noqa: ANN202
    """A batch scheduler's or a service manager's stop (SIGTERM) ends the scan as Ctrl-C does:
    the worker pool and Ray are shut down and temporary files removed on the way out. The
    previous handler is back afterwards (an in-process caller's)."""
    _stopped_by.clear()
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _progress_bar(path: Path):  # noqa: ANN202 - click's progress bar type is private
    class Bar:
        bar: Any = None

        def start(self, source: Any) -> None:
            self.bar = click.progressbar(
                length=source.expected_frames or 0, label=display_name(path.name)[:40], file=sys.stderr,
                show_pos=True,
            )
            self.bar.__enter__()

        def frame(self, frame: Any) -> None:
            if self.bar is not None:
                self.bar.update(1)

    b = Bar()
    try:
        yield b
    finally:
        if b.bar is not None:
            b.bar.__exit__(None, None, None)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder (created private, 0700).")
@config_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (for scripts).")
@click.option("--watchlist", "watchlist", type=click.Path(), default=None,
              help="A list written by `reunite enroll`; matches go to DIR/matches.json.")
@click.option("--store", "store", type=click.Path(dir_okay=False), default=None,
              help="Case store to reuse and add stage results to (default DIR/case.sqlite). "
                   "Share one between output folders to reprocess a case with tuned configs.")
@click.option("--workers", "workers", type=click.IntRange(1, 256), default=None,
              help="Files processed at once, one model load each (default 1; with "
                   "--executor ray: one per cluster CPU).")
@click.option("--executor", "executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="local: this machine; ray: Ray actors.")
@click.option("--ray-address", "ray_address", default=None, metavar="ADDR",
              help="An existing Ray cluster (auto, HOST:6379, ray://HOST:10001); default: "
                   "start a local Ray instance for this scan.")
def scan(inputs: tuple[str, ...], out_dir: str, config_file: str | None, sets: tuple[str, ...],
         quiet: bool, watchlist: str | None, store: str | None, workers: int | None,
         executor: str, ray_address: str | None) -> None:
    """Analyse video files or folders (recursed) and write results to --out.

    Stage results are kept in a case store: run the same command again after an interruption
    and it resumes; change the config and only the stages it affects run again.
    """
    from pipeline.case_lock import CaseBusyError
    from pipeline.scan import Execution, UsageError, run_scan
    from pipeline.store import StoreError
    from pipeline.watchlist import WatchlistError

    cfg = _config(config_file, sets)
    if ray_address and executor != "ray":
        raise _ExitError("--ray-address needs --executor ray", 2)
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise _ExitError("--executor ray needs Ray: pip install 'reunite[ray]'", 2) from None
    show_bars = not quiet and sys.stderr.isatty() and executor == "local" and (workers or 1) == 1
    with _sigterm_as_interrupt():
        try:
            manifest, code = run_scan(
                list(inputs), Path(out_dir), cfg,
                argv=sys.argv, progress=_progress_bar if show_bars else None,
                watchlist=Path(watchlist) if watchlist else None,
                store_path=Path(store) if store else None,
                execution=Execution(executor, workers if workers or executor == "ray" else 1,
                                    ray_address),
            )
        except (UsageError, CaseBusyError, ModelError, WatchlistError, StoreError) as exc:
            raise _ExitError(str(exc), 2) from None
        except OutputError as exc:
            raise _ExitError(str(exc), 1) from None
        except KeyboardInterrupt:
            # each finished file is committed to the store and listed in the manifest as it ends
            sig = _stopped_by[0] if _stopped_by else signal.SIGINT
            how = "interrupted" if sig == signal.SIGINT else f"stopped ({sig.name})"
            raise _ExitError(
                f"{how}; the files finished are kept in {display_name(Path(out_dir))} (its "
                "manifest.json lists them, marked incomplete); run the same command again to "
                "resume", 128 + sig) from None
    s = manifest["summary"]
    if s["inputs"] == 0:
        raise _ExitError("no video files found in the inputs", 1)
    if not quiet:
        click.echo(
            f"reunite: {s['inputs']} input(s): {s['ok']} ok, {s['partial']} partial, "
            f"{s['failed']} failed; {s['skipped_non_video']} non-video file(s) skipped; "
            f"detection reused from the case store for {s['reused']['analysis']}, events for "
            f"{s['reused']['events']}; manifest: {display_name(Path(out_dir) / 'manifest.json')}",
            err=True,
        )
    sys.exit(code)


@main.command()
@click.argument("watchlist_dir", type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="List folder to write (watchlist.json + reference thumbnails).")
@config_options
def enroll(watchlist_dir: str, out_dir: str, config_file: str | None, sets: tuple[str, ...]) -> None:
    """Enroll reference photos (a folder per subject) into a watch-list for scan --watchlist.

    Exit 0: every photo enrolled; 1: some photos were rejected (one line each, the rest are
    enrolled); 2: nothing could be enrolled, or a usage, config or model error.
    """
    from detectors.faces import build_face_models
    from pipeline.watchlist import WatchlistError, enroll as enroll_dir

    cfg = _config(config_file, sets)
    try:
        models = build_face_models(cfg.faces, cfg.models)
        res = enroll_dir(Path(watchlist_dir), Path(out_dir), models, cfg.faces)
    except (ModelError, WatchlistError) as exc:
        raise _ExitError(str(exc), 2) from None
    for line in res.problems:
        click.echo(f"reunite: enroll: {line}", err=True)
    n = sum(len(s["photos"]) for s in res.subjects)
    click.echo(f"reunite: enrolled {len(res.subjects)} subject(s) from {n} photo(s) into "
               f"{out_dir}; {len(res.problems)} problem(s)", err=True)
    sys.exit(1 if res.problems else 0)


@main.command()
@click.argument("file", type=click.Path())
def probe(file: str) -> None:
    """Print what the container says about FILE (JSON)."""
    from pipeline.ingest import probe as probe_file

    try:
        info = probe_file(file)
    except InputError as exc:
        raise _ExitError(str(exc), 1) from None
    click.echo(json.dumps(info.to_dict(), indent=2, ensure_ascii=False))


@main.command()
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
def report(out_dir: str) -> None:
    """Rebuild DIR/report.html, events.csv and matches.csv from a scan's stored results."""
    from pipeline.case_lock import CaseBusyError
    from pipeline.outputs.deliver import rebuild_report

    try:
        written = rebuild_report(Path(out_dir))
    except (InputError, CaseBusyError) as exc:
        raise _ExitError(str(exc), 2) from None
    except OutputError as exc:
        raise _ExitError(str(exc), 1) from None
    click.echo(f"reunite: wrote {', '.join(str(Path(out_dir) / w) for w in written)}", err=True)


@main.command()
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
def verify(out_dir: str) -> None:
    """Re-hash the originals and outputs recorded in DIR/manifest.json; exit 1 if any differ."""
    from pipeline.case_lock import CaseBusyError
    from pipeline.verify import verify as verify_dir

    try:
        res = verify_dir(Path(out_dir))
    except (InputError, CaseBusyError) as exc:
        raise _ExitError(str(exc), 2) from None
    for line in res.problems:
        click.echo(f"reunite: {line}")
    click.echo(
        f"reunite: {res.originals_checked} original(s) and {res.outputs_checked} output(s) "
        f"checked: {'all match the manifest' if res.ok else f'{len(res.problems)} problem(s)'}",
        err=True,
    )
    sys.exit(0 if res.ok else 1)


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@config_options
def config_show(config_file: str | None, sets: tuple[str, ...]) -> None:
    """Print the resolved configuration (defaults, --config, --set) as YAML, with its hash."""
    cfg = _config(config_file, sets)
    click.echo(dump_yaml(cfg), nl=False)
    click.echo(f"# config hash: {cfg.hash()}")


if __name__ == "__main__":
    main()
