"""The recall harness of issue 14: seeded long conversations (`generate`, `facts`,
`lexicon`), loading and asking them through a daemon (`daemon`), R@k / All@k and the
paired bootstrap (`metrics`), tables (`report`). Run by `bench/recall_bench.py`;
reduced size tested by `tests/server/test_recall_harness.py`; see docs/search.md#recall."""
