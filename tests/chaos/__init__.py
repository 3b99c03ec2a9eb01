"""Fault injection on the running dev stack: the short run in `make test`, the soak in `make soak`.

The harness (:mod:`._harness`) starts the dev stack in-process, drives it with audit appends,
halts and resumes while the market replay feeds the watchdogs and the paper OMS, injects a
seeded schedule of faults (:mod:`._faults`) and then checks the invariants (:mod:`._invariants`).
"""
