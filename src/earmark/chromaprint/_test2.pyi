from typing import Any

import numpy.typing as npt
from typing_extensions import Buffer

# numpy arrays export the buffer protocol; their stubs say so only for Python 3.12+.
_Buf = Buffer | npt.NDArray[Any]

FRAME_SIZE: int
HOP: int
FIRST_BIN: int

class Test2:
    def __init__(
        self, window: _Buf, bin_bands: _Buf, area_rows: _Buf, area_cols: _Buf, thresholds: _Buf, /
    ) -> None: ...
    def feed(self, samples: _Buf, /) -> None: ...
    def items(self) -> bytes: ...
