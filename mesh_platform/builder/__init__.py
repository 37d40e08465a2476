"""The visual builder's server side: a product spec edited as a draft (`draft.py`), the
palette of blocks (`palette.py`), data after every step (`preview.py`) and runs (`launch.py`).
The web catalog (`web/builder.py`) drives it; it writes only domain spec files."""
