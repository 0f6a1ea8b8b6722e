"""What a zygote imports before it forks kernels, and what a course runtime changes.

Imported by zygote_server.py (both bound read-only at /opt/sandbox in the zygote, under the
KERNEL RUNTIME's Python, standard library only).

A course runtime's zygote runs the same kernel runtime's interpreter: the course's
site-packages are never on its sys.path, so nothing of the course runs as root. Each kernel
puts them first once it is the slot uid under seccomp (their .pth files run then). A module
of the kernel runtime whose import asks for a module the course replaces is not preloaded
(the kernel must get the course's version): each batch is imported first in a throwaway
child that refuses the course's names, and only what never asked for one is imported in the
zygote.
"""

import contextlib
import importlib.abc
import importlib.machinery
import io
import json
import os
import site
import sys
import tempfile
import types
import warnings
from collections.abc import Sequence
from typing import Any

Config = dict[str, Any]

# debugpy/pydevd start threads and tracing when imported: a forked kernel would hang.
SKIP_PRELOAD = {
    "_pydev_bundle", "_pydevd_bundle", "pydevd", "debugpy", "_pydevd_frame_eval",
    "pydevd_tracing", "_pydevd_sys_monitoring", "pydev_ipython", "pydevconsole",
    "pydevd_plugins", "pydevd_file_utils", "_pydev_runfiles",
}  # fmt: skip
# What _classify uses: it runs only where the preload imported them all.
CLASSIFY_MODULES = (
    "sklearn.datasets", "sklearn.model_selection", "sklearn.neighbors", "sklearn.pipeline",
    "sklearn.preprocessing",
)  # fmt: skip
WARMUP = "/tmp/warmup"  # noqa: S108 - inside the zygote's own root
# Modules that wire themselves into the kernel's shell as they are imported: the inline
# backend registers its end-of-cell display of figures when a kernel's first figure
# imports it. Preloaded for what they import, then forgotten, so that each kernel runs
# their own code again (a fraction of a millisecond, where importing them cost 4 ms).
RUN_AGAIN_IN_EACH_KERNEL = ("matplotlib_inline.backend_inline",)


class Refuse(importlib.abc.MetaPathFinder):
    """Refuses the modules of a course runtime, and remembers that one was asked for."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)
        self.asked = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            self.asked = True
            raise ImportError(f"{fullname} is the course runtime's")
        return None


def import_quietly(module: str) -> None:
    # A module that will not preload loads in the kernel (or fails there, as it would cold).
    with contextlib.suppress(Exception):
        __import__(module)


def clean_prefix(modules: list[str], refused: Sequence[str]) -> int:
    """How many of `modules`, imported in order in a throwaway child, come before the first
    whose import asks for a `refused` module."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            refuse = Refuse(refused)
            sys.meta_path.insert(0, refuse)
            count = len(modules)
            for index, module in enumerate(modules):
                import_quietly(module)
                if refuse.asked:
                    count = index
                    break
            os.write(write_end, str(count).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        count = int(answer.read() or b"0")
    os.waitpid(pid, 0)
    return count


MAX_PROBES = 8  # a course replacing much of the stack: the rest loads in each kernel


def import_clean(modules: list[str], refused: Sequence[str]) -> None:
    """Import `modules` here, except those whose import asks for a `refused` module (and,
    after MAX_PROBES such, the rest)."""
    remaining = list(modules)
    for _ in range(MAX_PROBES if refused else 1):
        count = clean_prefix(remaining, refused) if refused else len(remaining)
        for module in remaining[:count]:
            import_quietly(module)
        remaining = remaining[count + 1 :]
        if not remaining:
            return


def enter_course_runtime(course: Config) -> None:
    """In a kernel, as the slot uid: the course's packages first, as in an interpreter of
    the course runtime (sandbox.environments layers it on the kernel runtime)."""
    before = list(sys.path)
    site.addsitedir(course["site"])
    added = [path for path in sys.path if path not in before]
    # Where a course interpreter has them: after the standard library, before the kernel
    # runtime's site-packages.
    first_site = next((i for i, p in enumerate(before) if p.endswith("site-packages")), 0)
    sys.path[:] = before[:first_site] + added + before[first_site:]
    sys.executable = course["python"]
    sys.prefix = sys.exec_prefix = course["prefix"]
    os.environ.update(course["env"])


def preload(modules: list[str], home_files: dict[str, str], refused: Sequence[str]) -> None:
    """Import what learners' code imports, once: a kernel forked afterwards pays nothing for
    it. A module missing from the runtime is skipped (it would fail in the kernel too)."""
    # Headless while importing: pyplot must not look for a display or a GUI toolkit.
    os.environ["MPLBACKEND"] = "Agg"
    kernels_config_dir = os.environ.get("MPLCONFIGDIR")
    with tempfile.TemporaryDirectory() as config_dir:
        # matplotlib finds the runtime's prebuilt font list here; without it, it would build
        # one with fc-list, whose cache (/var/cache/fontconfig) every kernel would then see.
        for relative, text in home_files.items():
            if relative.startswith(".config/matplotlib/"):
                with open(os.path.join(config_dir, os.path.basename(relative)), "w") as cache:
                    cache.write(text)
        os.environ["MPLCONFIGDIR"] = config_dir
        import_clean(modules, refused)
    del os.environ["MPLBACKEND"]
    if kernels_config_dir is not None:
        os.environ["MPLCONFIGDIR"] = kernels_config_dir
    forget(RUN_AGAIN_IN_EACH_KERNEL)


def define_modules(modules: list[Config]) -> None:
    """Define each module from its source, in sys.modules under its name (the platform's
    code that every kernel of this zygote is sent: sandbox.trusted.helper)."""
    for module in modules:
        defined = types.ModuleType(module["name"])
        exec(compile(module["source"], module["filename"], "exec"), defined.__dict__)  # noqa: S102
        sys.modules[module["name"]] = defined


def forget(modules: Sequence[str]) -> None:
    """Drop `modules` from sys.modules and from their packages: the next import runs them
    again (what they imported stays imported)."""
    for name in modules:
        if sys.modules.pop(name, None) is not None:
            package, _, attribute = name.rpartition(".")
            with contextlib.suppress(AttributeError, KeyError):
                delattr(sys.modules[package], attribute)


def warm_up() -> None:
    """Use each preloaded library once, as learners' first cells do: a library's first
    figure, data frame or estimator fills caches (fonts, text layout, entry points, format
    tables) that cost every kernel 10-30 ms of its first cell; filled here, the kernels
    inherit them. Only the default zygote: a course's packages, absent here, could change
    what those caches should hold. What runs makes no thread, touches no global state a
    learner can see (no pyplot figure, no random draw, no option) and makes no OpenMP pool
    (zygote_server checks that the zygote still has one thread).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for libraries, use in (
            (("matplotlib.pyplot",), _draw_a_figure),
            (("pandas",), _describe_a_frame),
            (CLASSIFY_MODULES, _classify),
        ):
            if all(library in sys.modules for library in libraries):
                with contextlib.suppress(Exception):  # a kernel would meet it at its own pace
                    use()


def _draw_a_figure() -> None:
    # Object-oriented: pyplot's backend stays unchosen (each kernel picks its own).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure()
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([0.0, 1.0, 2.0], [0.0, 1.0, 4.0], label="$x^2$")
    axes.set(title="warm-up", xlabel="x", ylabel="y")
    axes.legend()
    # As the inline backend draws a figure: PNG, tight bounding box.
    figure.savefig(io.BytesIO(), format="png", bbox_inches="tight")


def _describe_a_frame() -> None:
    import pandas

    frame = pandas.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]})
    frame.describe()
    frame.groupby("c").mean()
    repr(frame)
    frame._repr_html_()


def _classify() -> None:
    # A first model, as courses teach it: a data set that ships with scikit-learn, a
    # stratified split, a scaled nearest-neighbour pipeline fitted and scored. Its parallel
    # loop runs on this thread: OMP_NUM_THREADS is 1 here as in the kernels, so OpenMP makes
    # no pool.
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris()
    train, test, train_labels, test_labels = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=3))
    model.fit(train, train_labels).score(test, test_labels)


def modules_a_kernel_imports(config: Config, refused: Sequence[str]) -> list[str] | None:
    """Start a throwaway kernel in a child and list what it imported: the zygote imports
    all of it once, instead of every kernel importing it again (about 150 ms each). None
    when the kernel asked for a `refused` module (a course replaces part of ipykernel's)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.makedirs(WARMUP, exist_ok=True)
            with open(f"{WARMUP}/c.json", "w") as file:
                json.dump({"transport": "ipc", "ip": f"{WARMUP}/k", "key": "",
                           "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
                           "control_port": 4, "hb_port": 5}, file)  # fmt: skip
            refuse = Refuse(refused)
            sys.meta_path.insert(0, refuse)
            from ipykernel.kernelapp import IPKernelApp

            app = IPKernelApp.instance()
            app.initialize(["-f", f"{WARMUP}/c.json", *config["kernel_args"]])
            if not refuse.asked:
                os.write(write_end, "\n".join(sorted(sys.modules)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return [name for name in b"".join(chunks).decode().split("\n") if name] or None


def preload_kernel(config: Config, refused: Sequence[str]) -> bool:
    """Import what a kernel imports (as a throwaway kernel showed); False when a course
    replaces part of it (then each kernel imports ipykernel itself)."""
    kernel_modules = modules_a_kernel_imports(config, refused)
    wanted = [m for m in kernel_modules or [] if m.split(".")[0] not in SKIP_PRELOAD]
    import_clean(["ipykernel.ipkernel", "ipykernel.kernelapp", *wanted], refused)
    return kernel_modules is not None
