"""Tests of the typed BTP clients (a package, so ``tests/`` is importable: ``emulator_fixtures``)."""
