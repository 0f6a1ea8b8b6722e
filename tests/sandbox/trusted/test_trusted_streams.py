"""A test that seeds numpy's (or ``random``'s) global generator and then calls the
learner's function sees that function draw from the same stream, as under nbgrader where
tests and answers share one process; the learner's code never chooses the test's draws."""

from __future__ import annotations

# As in a real course (eigenvalues, issue 12): the answer ignores its seed argument and
# draws from the global generators.
DRAWS = (
    "import numpy as np\n"
    "import random\n"
    "def A_and_x(seed):\n"
    "    return np.random.random(size=4), random.random()\n"
)
# Only the shared stream gives these values: the test's 2 draws, then the learner's 4.
SEEDS_THEN_CALLS = (
    "import numpy as np\n"
    "import random\n"
    "np.random.seed(123)\n"
    "random.seed(7)\n"
    "x = np.random.random(size=2)\n"
    "drawn, r = A_and_x(0)\n"
    "assert np.array_equal(drawn, np.random.RandomState(123).random_sample(6)[2:])\n"
    "assert r == random.Random(7).random()\n"
)


def test_the_learners_draws_continue_the_stream_the_test_seeded(run_trusted):
    again = SEEDS_THEN_CALLS.replace("123", "321").replace("(7)", "(8)")
    results = run_trusted(DRAWS, SEEDS_THEN_CALLS, again)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")] * 2


def test_a_seed_the_answer_set_holds_while_no_test_changes_the_stream(run_trusted):
    answer = DRAWS + "np.random.seed(5)\nrandom.seed(5)\n"
    test = (
        "import numpy as np\n"
        "import random\n"
        "drawn, r = A_and_x(0)\n"
        "assert np.array_equal(drawn, np.random.RandomState(5).random_sample(4))\n"
        "assert r == random.Random(5).random()\n"
    )
    assert [(r.passed, r.error_message) for r in run_trusted(answer, test)] == [(True, "")]


def test_a_learner_who_reseeds_the_kernel_never_chooses_the_tests_draws(run_trusted):
    cheat = (
        "import numpy as np\n"
        "import random\n"
        "def A_and_x(seed):\n"
        "    np.random.seed(0)\n"
        "    random.seed(0)\n"
        "    drawn = np.random.random(size=4)\n"
        "    np.random.set_state = lambda state: None\n"
        "    random.setstate = lambda state: None\n"
        "    return drawn, 0.0\n"
    )
    test = (
        "import numpy as np\n"
        "import random\n"
        "np.random.seed(123)\n"
        "random.seed(7)\n"
        "A_and_x(0)\n"
        "x = np.random.random(size=2)\n"
        "assert np.array_equal(x, np.random.RandomState(123).random_sample(2))\n"
        "assert random.random() == random.Random(7).random()\n"
        "np.random.seed(99)\n"
        "drawn, _ = A_and_x(0)\n"
        "assert np.array_equal(x, np.random.RandomState(123).random_sample(2))\n"
        "assert np.random.random() == np.random.RandomState(99).random_sample()\n"
    )
    results = run_trusted(cheat, test, test)
    assert [(r.passed, r.error_message) for r in results] == [(True, "")] * 2
