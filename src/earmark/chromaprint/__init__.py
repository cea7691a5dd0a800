"""Chromaprint: fingerprints, their compressed form, and how AcoustID compares them.

Pure code (numpy and the standard library); audio decoding lives in :mod:`earmark.chromaprint.audio`.
"""
