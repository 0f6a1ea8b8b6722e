"""What runs inside a kernel besides the learner's code: what the zygote imported and
used before the fork, ipykernel's own work per request (sandbox/kernel_outstream.py,
kernel_overhead.py, the zygote's start-up sequence) and text-only displays
(kernel_displays.py). Real kernels, in every isolation mode the tests name."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from sandbox import Kernel, Limits, launch


@pytest.fixture
def zygote_kernel() -> Iterator[Kernel]:
    """A kernel forked from the default zygote, destroyed after the test."""
    kernel = launch.start_kernel(limits=Limits(), mode="zygote")
    yield kernel
    kernel.shutdown(wait=True)


def test_a_zygote_kernel_starts_with_the_data_science_stack_already_imported(start, mode) -> None:
    # Imported once in the zygote: a learner's `import pandas` costs a kernel nothing.
    if mode != "zygote":
        return
    kernel = start()
    wanted = [
        "numpy",
        "pandas",
        "matplotlib.pyplot",
        "scipy.stats",
        "sklearn.neighbors",
        "open_models",
    ]
    outcome = kernel.execute(
        f"import sys, matplotlib; [m for m in {wanted!r} if m not in sys.modules],"
        " matplotlib.get_backend()",
        timeout=30,
    )
    missing, backend = ast.literal_eval(outcome.outputs[0]["data"]["text/plain"])
    assert missing == []
    assert backend == "module://matplotlib_inline.backend_inline"  # the kernel's, not Agg


def test_a_zygote_kernel_inherits_what_the_zygote_warmed_up_and_nothing_a_learner_sees(
    zygote_kernel: Kernel,
) -> None:
    # Read by the first cell, before anything of its own uses them.
    built = zygote_kernel.execute(
        "shell = get_ipython()\n"
        "'active_types' in shell.display_formatter._trait_values,"
        " 'IPython.core.logger' in shell._sys_modules_keys",
        timeout=30,
    )
    warm = zygote_kernel.execute(
        "from matplotlib.font_manager import fontManager\n"
        "from matplotlib.mathtext import MathTextParser\n"
        "import matplotlib, matplotlib.pyplot as plt\n"
        "import sys\n"
        "fontManager._findfont_cached.cache_info().currsize,"
        " MathTextParser._parser is not None, plt.get_fignums(), matplotlib.get_backend(),"
        " 'sklearn.datasets.descr' in sys.modules",
        timeout=30,
    )
    # The zygote's warm-up ran this parallel loop on its one thread. Had OpenMP made a pool
    # there, its threads would be missing here and the loop would hang; with two threads,
    # the kernel makes its own pool.
    parallel = zygote_kernel.execute(
        "from sklearn.neighbors import KNeighborsClassifier\n"
        "from threadpoolctl import threadpool_limits\n"
        "model = KNeighborsClassifier(n_neighbors=1).fit([[0.0], [1.0]], [0, 1])\n"
        "with threadpool_limits(2, user_api='openmp'):\n"
        "    two = model.predict([[0.1], [0.9]] * 500)\n"
        "model.predict([[0.9]]).tolist() + two[:2].tolist()",
        timeout=60,
    )

    fonts_found, mathtext_ready, figures, backend, data_set_loaded = ast.literal_eval(
        warm.outputs[0]["data"]["text/plain"]
    )
    # The shell's display formatters, and its session logger's module, made in the zygote
    assert built.outputs[0]["data"]["text/plain"] == "(True, True)"
    assert fonts_found > 0 and mathtext_ready  # a first figure's font lookups and parser
    assert figures == []  # no figure of the warm-up's in pyplot
    assert backend == "module://matplotlib_inline.backend_inline"  # still the kernel's own
    assert data_set_loaded  # what loading a bundled data set imports on its first use
    assert parallel.status == "ok"
    assert parallel.outputs[0]["data"]["text/plain"] == "[1, 0, 1]"


def test_a_zygote_kernel_takes_shell_requests_on_its_main_thread(zygote_kernel: Kernel) -> None:
    # No thread of ipykernel's own hands each request on (it serves subshells only), and
    # no heartbeat.
    threads = zygote_kernel.execute(
        "import threading; sorted(t.name for t in threading.enumerate())", timeout=30
    )
    answers = [zygote_kernel.execute(f"{n} * 2", timeout=30) for n in range(3)]

    names = ast.literal_eval(threads.outputs[0]["data"]["text/plain"])
    assert "Shell channel" not in names and "MainThread" in names, names
    assert "Heartbeat" not in names  # nobody pings it: the process is the kernel's life
    assert [a.outputs[0]["data"]["text/plain"] for a in answers] == ["0", "2", "4"]


def test_a_zygote_kernel_adopts_the_shell_the_zygote_made_as_its_own(zygote_kernel: Kernel) -> None:
    # The IPython shell is made once in the zygote (frozen there, so not among the objects
    # the kernel's collector tracks), then given this kernel, its environment and its folder.
    outcome = zygote_kernel.execute(
        "import gc, os\n"
        "shell = get_ipython()\n"
        "any(o is shell for o in gc.get_objects()), shell.kernel is not None,"
        " os.environ.get('PAGER'), shell.starting_dir == os.getcwd() == _dh[0],"
        " os.getcwd() != '/'",
        timeout=30,
    )
    counted = [zygote_kernel.execute("1 + 1", timeout=30).status for _ in range(2)]

    tracked, has_kernel, pager, same_folder, not_the_zygotes = ast.literal_eval(
        outcome.outputs[0]["data"]["text/plain"]
    )
    assert not tracked  # made before the zygote froze its objects
    assert has_kernel and pager == "cat" and same_folder and not_the_zygotes
    assert counted == ["ok", "ok"]


@pytest.mark.parametrize("grading", [False, True], ids=["live", "grading"])
def test_zygote_kernels_make_the_zygotes_session_each_their_own(grading: bool) -> None:
    # The Session is made once in the zygote, keyless; each kernel gives it its own id, its
    # pid (a Session sends nothing from another process than its maker's) and its key.
    code = (
        "import gc, os\n"
        "session = get_ipython().kernel.session\n"
        "session.session, session.pid == os.getpid(), session.key.decode(),"
        " any(o is session for o in gc.get_objects()), get_ipython().kernel.parent.connection_dir"
    )
    seen = []
    for _ in range(2):
        kernel = launch.start_kernel(limits=Limits(), mode="zygote", grading=grading)
        try:
            outcome = kernel.execute(code, timeout=30)
            seen.append((ast.literal_eval(outcome.outputs[0]["data"]["text/plain"]), kernel))
        finally:
            kernel.shutdown(wait=True)

    (first, kernel), (second, _) = seen
    assert first[0] != second[0]  # each kernel's messages name a session of its own
    assert first[1] and second[1]
    assert first[2] == kernel.connection_info()["key"]
    assert not first[3]  # made before the zygote froze its objects, not in the kernel
    assert first[4] == "/kernel"


def test_a_zygote_kernel_has_the_default_extensions_and_the_comm_manager_the_zygote_made(
    zygote_kernel: Kernel,
) -> None:
    # Loaded and made once in the zygote (so not among the kernel's tracked objects), and
    # working in the kernel: %store keeps a value, the comm manager takes comm requests.
    made = zygote_kernel.execute(
        "import gc\n"
        "shell = get_ipython()\n"
        "manager = shell.kernel.comm_manager\n"
        "'IPython.extensions.storemagic' in shell.extension_manager.loaded,"
        " any(o is manager for o in gc.get_objects()), manager in shell.configurables,"
        " shell.kernel.shell_handlers['comm_open'] == manager.comm_open",
        timeout=30,
    )
    stored = zygote_kernel.execute("kept = 42\n%store kept\n%store -d kept", timeout=30)

    loaded, tracked, configurable, handles_comms = ast.literal_eval(
        made.outputs[0]["data"]["text/plain"]
    )
    assert loaded and configurable and handles_comms
    assert not tracked
    assert stored.status == "ok"
    assert "Stored 'kept' (int)" in stored.outputs[0]["text"]


def test_an_aggressive_reset_culls_only_what_was_imported_since_the_kernel_started(
    start, mode
) -> None:
    # The zygote hands its kernels its own list of start-up modules (a kernel listing
    # them itself would copy their shared pages): `%reset --aggressive` still works.
    kernel = start()
    kernel.execute("import graphlib, numpy", timeout=30)
    kernel.execute("%reset -f --aggressive", timeout=30)
    outcome = kernel.execute(
        "import sys; 'graphlib' in sys.modules, 'numpy' in sys.modules", timeout=30
    )
    imported_since, started_with = ast.literal_eval(outcome.outputs[0]["data"]["text/plain"])
    assert not imported_since
    assert started_with == (mode == "zygote")  # only the zygote preloads numpy


def test_a_cell_without_rich_outputs_closes_its_figure_undrawn_and_the_next_draws(start) -> None:
    kernel = start()
    plot = "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()"
    quiet = kernel.execute(plot, timeout=30, rich_outputs=False)
    still_quiet = kernel.execute("len(plt.get_fignums()), 'x'", timeout=30, rich_outputs=False)
    drawn = kernel.execute(plot, timeout=30)
    quiet_again = kernel.execute(plot, timeout=30, rich_outputs=False)

    assert quiet.status == "ok"
    assert [set(o["data"]) for o in quiet.outputs] == [{"text/plain"}]  # <Figure size ...>
    assert still_quiet.outputs[0]["data"]["text/plain"] == "(0, 'x')"  # closed, as drawn ones
    assert "image/png" in drawn.outputs[-1]["data"]
    assert [set(o["data"]) for o in quiet_again.outputs] == [{"text/plain"}]  # each request


# A figure whose draws are counted, made the way a notebook makes one: no plt.show(), the
# inline backend shows it when the cell ends.
COUNTED_FIGURE = """
fig = plt.figure()
draws = []
fig.canvas.mpl_connect("draw_event", lambda event: draws.append(1))
lines = plt.plot([1, 2, 3])
"""
# What one PNG display of such a figure draws (a tight bounding box may take more than one).
DRAWS_FOR_ONE_PNG = """
reference = plt.figure()
png_draws = []
reference.canvas.mpl_connect("draw_event", lambda event: png_draws.append(1))
lines = plt.plot([1, 2, 3])
reference.savefig(__import__("io").BytesIO(), format="png", bbox_inches="tight")
plt.close(reference)
"""


def test_a_figure_left_for_the_inline_backend_is_drawn_only_by_its_display(start) -> None:
    kernel = start()
    kernel.execute("import matplotlib.pyplot as plt", timeout=30)
    shown = kernel.execute(COUNTED_FIGURE, timeout=30)
    displayed = kernel.execute("len(draws)", timeout=30)
    kernel.execute(DRAWS_FOR_ONE_PNG, timeout=30)
    one_png = kernel.execute("len(png_draws)", timeout=30)
    unseen = kernel.execute(COUNTED_FIGURE, timeout=30, rich_outputs=False)
    never_drawn = kernel.execute("len(draws), plt.get_fignums()", timeout=30)

    assert "image/png" in shown.outputs[-1]["data"]  # still shown, with no plt.show()
    # pyplot's own end-of-cell draw would have added one, thrown away
    assert displayed.outputs[0]["data"]["text/plain"] == one_png.outputs[0]["data"]["text/plain"]
    assert [set(o["data"]) for o in unseen.outputs] == [{"text/plain"}]
    assert never_drawn.outputs[0]["data"]["text/plain"] == "(0, [])"  # closed undrawn


def test_a_figure_under_a_backend_the_learner_picked_is_still_drawn_after_each_cell(start) -> None:
    kernel = start()
    kernel.execute("import matplotlib.pyplot as plt\nplt.plot([1])", timeout=30)
    kernel.execute("plt.switch_backend('agg')\n" + COUNTED_FIGURE, timeout=30)
    drawn = kernel.execute("len(draws), __import__('matplotlib').is_interactive()", timeout=30)

    assert drawn.outputs[0]["data"]["text/plain"] == "(1, True)"  # pyplot's hook, as before


def test_a_zygote_kernels_first_figure_imports_only_the_inline_backends_own_module(
    start, mode
) -> None:
    # Its imports were preloaded; its own code runs in the kernel, where it wires the
    # backend into the kernel's shell.
    if mode != "zygote":
        return
    kernel = start()
    kernel.execute("import sys, matplotlib.pyplot as plt; before = set(sys.modules)", timeout=30)
    plotted = kernel.execute("plt.plot([1, 2])", timeout=30)
    imported = kernel.execute("sorted(set(sys.modules) - before)", timeout=30)

    assert "image/png" in plotted.outputs[-1]["data"]
    assert imported.outputs[0]["data"]["text/plain"] == "['matplotlib_inline.backend_inline']"


def test_a_learners_own_display_formats_come_back_after_a_text_only_cell(start) -> None:
    kernel = start()
    formats = "get_ipython().display_formatter.active_types"
    kernel.execute(f"{formats} = ['text/plain', 'text/html']", timeout=30)
    during = kernel.execute(formats, timeout=30, rich_outputs=False)
    after = kernel.execute(formats, timeout=30)

    assert during.outputs[0]["data"]["text/plain"] == "['text/plain']"
    assert after.outputs[0]["data"]["text/plain"] == "['text/plain', 'text/html']"


# Inside the kernel: what the IO thread is handed, and the log records made, from here on.
WATCH_THE_KERNEL = """
import logging, threading
_io = get_ipython().kernel.iopub_thread
_handed, _records = [], []
_schedule = _io.schedule
def _watched(f):
    _handed.append(getattr(f, "__qualname__", type(f).__name__))
    _schedule(f)
_io.schedule = _watched
_factory = logging.getLogRecordFactory()
def _counted(*args, **kwargs):
    _records.append(args[0])
    return _factory(*args, **kwargs)
logging.setLogRecordFactory(_counted)
"""


def test_a_cell_that_prints_nothing_waits_for_no_flush_and_builds_no_log_record(start) -> None:
    kernel = start()
    kernel.execute(WATCH_THE_KERNEL, timeout=30)
    kernel.execute("pass", timeout=30)
    seen = kernel.execute(
        "_handed[:], _records[:], get_ipython().kernel._execute_sleep", timeout=30
    )
    printed = kernel.execute("print('a'); import sys; sys.stdout.flush(); 5", timeout=30)

    handed, records, sleep = ast.literal_eval(seen.outputs[0]["data"]["text/plain"])
    # Only messages went to the IO thread: no flush of an empty stream, no wait for one.
    assert handed and not [name for name in handed if "flush" in name or "Event" in name]
    assert records == []  # ipykernel's debug lines build no record the handler would drop
    assert sleep == 0  # nor does it sleep before its reply
    # A stream with something in it still flushes, in order, before the cell's result.
    assert [o.get("text") or o["data"]["text/plain"] for o in printed.outputs] == ["a\n", "5"]
