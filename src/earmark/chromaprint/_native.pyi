from typing import Any

import numpy.typing as npt
from typing_extensions import Buffer

# numpy arrays export the buffer protocol; their stubs say so only for Python 3.12+.
_Buf = Buffer | npt.NDArray[Any]

DECODE_OK: int
DECODE_NORMAL_SHORT: int
DECODE_EXCEPTION_SHORT: int
DECODE_BIT_RANGE: int

def decode(body: _Buf, count: int, out: _Buf, /) -> int: ...
def compare2(a: _Buf, b: _Buf, maxoffset: int, /) -> float: ...
