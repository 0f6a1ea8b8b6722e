"""A notebook's code cells (solutions and hidden tests included) run in this plain python
process, outside the platform: CPU of the imports the zygote makes (sandbox.zygote's
preload list), then CPU of the cells once those imports (and a first figure) are done, as
in a kernel forked from the pre-imported zygote. Figures are drawn as PNG, as the inline
backend draws them.

argv: a notebook's JSON file, the modules to import first (comma-separated). Prints one
JSON line (ms)."""

import contextlib
import importlib
import io
import json
import re
import resource
import sys
import time

MARKERS = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$", re.M)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def draw() -> None:
    import matplotlib.pyplot as plt

    if plt.get_fignums():
        plt.gcf().savefig(io.BytesIO(), format="png")
    plt.close("all")


def main(path: str, modules: list[str]) -> None:
    with open(path) as file:
        notebook = json.load(file)
    cells = [
        MARKERS.sub("", "".join(c["source"])) for c in notebook["cells"] if c["cell_type"] == "code"
    ]
    started = cpu()
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    for module in modules:
        with contextlib.suppress(ImportError):  # as the zygote: absent modules are skipped
            importlib.import_module(module)
    import matplotlib.pyplot as plt

    plt.plot([0, 1])
    draw()
    imported = cpu()
    wall = time.perf_counter()
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for source in cells:
            exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 (the notebook's cells)
            draw()
    done = cpu()
    print(
        json.dumps(
            {
                "imports_cpu_ms": round((imported - started) * 1000, 1),
                "cells_cpu_ms": round((done - imported) * 1000, 1),
                "cells_wall_ms": round((time.perf_counter() - wall) * 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","))
