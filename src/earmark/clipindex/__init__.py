"""The clip index: locate a short excerpt anywhere inside stored full-length fingerprints
(docs/clip-identification.md). Core layer: numpy and files only."""
