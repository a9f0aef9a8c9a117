"""Tests of the BTP emulator (a package so that ``tests/`` is importable: ``emulator_fixtures``)."""
