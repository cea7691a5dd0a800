"""Chromaprint: fingerprints, their compressed form, and how AcoustID compares them.

Pure code (numpy and the standard library), except :mod:`earmark.chromaprint.audio`, which
decodes files with PyAV.
"""
