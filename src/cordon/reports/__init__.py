"""Reports: the entry point of the pipeline. URLs reported by partners, normalised and kept once."""
