"""Stage 1, ingest: the corpus folder (sources.toml and its files) -> validated `Source`s -> `Passage`s with exact
offsets; the keyword analysis (words, stems, spelling repair), page furniture and the corpus's topic."""
