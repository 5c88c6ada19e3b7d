"""The one numba decorator every kernel uses."""

import numba

#: ``cache=True`` so a second process does not compile again; never ``fastmath``:
#: the arithmetic must stay exactly the one written.
kernel = numba.njit(cache=True, nogil=True)
