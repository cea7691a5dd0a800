"""AcoustID's public data set: reading its daily files, applying them, writing Earmark's own.

:mod:`layout` (paths and listings) and :mod:`decode` (the three encodings) are pure; the
source readers, the importer and the exporter use the database and the network.
"""
