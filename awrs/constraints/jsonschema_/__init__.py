"""Parts of the JSON Schema constraint: keyword compiler, incremental value machines, formats."""
