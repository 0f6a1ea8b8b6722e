"""What the trusted side takes as its own: public data modules and assert helpers only."""

from __future__ import annotations

import numpy as np

from sandbox.trusted.policy import trusted_module_name, trusted_object


def test_only_public_data_modules_and_assert_helpers_have_trusted_twins():
    assert trusted_module_name("numpy.linalg") and trusted_module_name("math")
    for name in ("pickle", "os", "subprocess", "unittest.__main__", "numpy._core", "builtins"):
        assert not trusted_module_name(name)
    assert trusted_object("numpy.testing", "assert_allclose") is np.testing.assert_allclose
    assert trusted_object("numpy", "allclose") is np.allclose
    for module, name in (
        ("pickle", "loads"),
        ("os", "system"),
        ("unittest.mock", "MagicMock"),
        ("math", "sqrt"),
        ("numpy", "load"),
        ("builtins", "eval"),
    ):
        assert trusted_object(module, name) is None
