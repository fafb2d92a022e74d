"""Analysis: results -> medians, intervals, comparisons and the verdict in words, for reports and the gate.

`summary` (the only pandas importer) aggregates repetitions; `stats` holds the distribution-free statistics
the gate shares; `explain` puts a comparison into words; `caveats` says how far figures can be trusted;
`trialtable` flattens one trial into a row of plain values.
"""
