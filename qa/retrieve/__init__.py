"""Stage 3, retrieve: a question read against one `LoadedIndex` (its stems, vectors, the topic) -> BM25 and
dense scores, fused and adjusted by what the question asks for -> `Candidate`s, best first."""
