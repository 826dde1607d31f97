"""Stage 2, index: passages -> vectors (the bundled MiniLM) + BM25 + FAISS, written as plain files with a signed
manifest, installed atomically, and loaded back verified (`LoadedIndex`)."""
