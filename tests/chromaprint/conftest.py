"""Both implementations of decoding and compare2: the C extension and the numpy specification."""

from __future__ import annotations

import pytest

from earmark.chromaprint import codec, compare
from tests.support import IN_CI


def require_native() -> None:
    """Skip (fail in CI) when the C extension was not built."""
    if not codec.NATIVE:
        message = "earmark.chromaprint._native is not built (no C compiler or Python headers)"
        if IN_CI:
            pytest.fail(message + "; CI must build it (make install)")
        pytest.skip(message)


@pytest.fixture(params=["native", "numpy"])
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the C extension, then with numpy only (as without a compiler)."""
    if request.param == "native":
        require_native()
    else:
        monkeypatch.setattr(codec, "_decode_items", codec.decode_items_numpy)
        monkeypatch.setattr(compare, "NATIVE", False)
    return str(request.param)
