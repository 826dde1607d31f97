"""Corpus validation: every bad source is refused with a CorpusError naming the file, and a refused build
leaves the existing index exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.index.build import build_index
from qa.index.load import load_index
from qa.ingest.corpus import corpus_fingerprint, load_corpus, read_corpus
from qa.settings import Settings

SETTINGS = Settings(abstain=False)


def _append_entry(corpus: Path, entry: str) -> None:
    with open(corpus / "sources.toml", "a", encoding="utf-8") as f:
        f.write("\n" + entry)


# Each breaker damages the tiny corpus one way and returns the file name the error must mention.
def non_utf8(c: Path) -> str:
    (c / "alpha.txt").write_bytes("Caf\u00e9 talk about IPT.\n".encode("latin-1"))
    return "alpha.txt"


def empty(c: Path) -> str:
    (c / "alpha.txt").write_bytes(b"")
    return "alpha.txt"


def blank_only(c: Path) -> str:
    (c / "alpha.txt").write_bytes(b" \n\n\t\n")
    return "alpha.txt"


def bom_only(c: Path) -> str:
    (c / "alpha.txt").write_bytes(b"\xef\xbb\xbf\n")
    return "alpha.txt"


def binary(c: Path) -> str:
    (c / "beta.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    return "beta.md"


def duplicate(c: Path) -> str:
    (c / "beta.md").write_bytes((c / "alpha.txt").read_bytes())
    return "beta.md"


def duplicate_other_newlines(c: Path) -> str:
    # The same text saved with Windows line ends is still the same source.
    (c / "beta.md").write_bytes((c / "alpha.txt").read_bytes().replace(b"\n", b"\r\n"))
    return "beta.md"


def entry_without_file(c: Path) -> str:
    (c / "beta.md").unlink()
    return "beta.md"


def file_without_entry(c: Path) -> str:
    (c / "gamma.txt").write_text("Gamma says IPT focuses on relationships.\n", encoding="utf-8")
    return "gamma.txt"


def markdown_without_entry(c: Path) -> str:
    (c / "delta.md").write_text("# Delta\n\nIPT focuses on relationships.\n", encoding="utf-8")
    return "delta.md"


def broken_toml(c: Path) -> str:
    _append_entry(c, '[[source]]\nid = "gamma\ntitle = "Gamma"\n')
    return "sources.toml"


def manifest_missing(c: Path) -> str:
    (c / "sources.toml").unlink()
    return "sources.toml"


def source_not_array(c: Path) -> str:
    (c / "sources.toml").write_text('[source]\nid = "alpha"\ntitle = "Alpha"\nfile = "alpha.txt"\n', encoding="utf-8")
    return "sources.toml"


def entry_lacks_title(c: Path) -> str:
    _append_entry(c, '[[source]]\nid = "gamma"\nfile = "gamma.txt"\n')
    (c / "gamma.txt").write_text("Gamma says IPT focuses on relationships.\n", encoding="utf-8")
    return "sources.toml"


def unsupported_suffix(c: Path) -> str:
    _append_entry(c, '[[source]]\nid = "gamma"\ntitle = "Gamma"\nfile = "gamma.pdf"\n')
    (c / "gamma.pdf").write_text("Gamma says IPT focuses on relationships.\n", encoding="utf-8")
    return "gamma.pdf"


def links_not_a_list(c: Path) -> str:
    _append_entry(c, '[[source]]\nid = "gamma"\ntitle = "Gamma"\nfile = "gamma.txt"\nlinks = "https://x.org"\n')
    (c / "gamma.txt").write_text("Gamma says IPT focuses on relationships.\n", encoding="utf-8")
    return "sources.toml"


def only_page_chrome(c: Path) -> str:
    # Readable text from which no passage can be cut (all sign-up chrome) is a mistake worth naming.
    (c / "alpha.txt").write_text("Sign up\nLog in\n, , , ,\n", encoding="utf-8")
    return "alpha.txt"


BREAKERS = [non_utf8, empty, blank_only, bom_only, binary, duplicate, duplicate_other_newlines, entry_without_file,
            file_without_entry, markdown_without_entry, broken_toml, manifest_missing, source_not_array,
            entry_lacks_title, unsupported_suffix, links_not_a_list]


def test_tiny_corpus_loads_exactly_as_open_reads(tiny_corpus):
    sources = load_corpus(tiny_corpus)
    assert [s.id for s in sources] == ["alpha", "beta"]
    for s in sources:
        assert s.text == Path(s.path).read_text(encoding="utf-8")
    assert [s.is_markdown for s in sources] == [False, True]


def test_windows_line_ends_read_as_open_reads(tiny_corpus):
    path = tiny_corpus / "alpha.txt"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    alpha = load_corpus(tiny_corpus)[0]
    assert alpha.text == Path(path).read_text(encoding="utf-8")
    assert "\r" not in alpha.text


def test_fingerprint_is_of_the_bytes_read(tiny_corpus):
    corpus = read_corpus(tiny_corpus)
    assert corpus.fingerprint == corpus_fingerprint(tiny_corpus)
    assert {s.id: s.sha256 for s in corpus.sources}.items() <= corpus.fingerprint.items()


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_bad_source_is_refused_naming_the_file(tiny_corpus, breaker):
    name = breaker(tiny_corpus)
    with pytest.raises(CorpusError) as err:
        load_corpus(tiny_corpus)
    msg = str(err.value)
    assert name in msg
    assert "\n" not in msg  # one line, fit for the CLI


def test_duplicate_names_the_other_source(tiny_corpus):
    duplicate(tiny_corpus)
    with pytest.raises(CorpusError, match="alpha"):
        load_corpus(tiny_corpus)


def test_a_duplicate_is_the_same_text_in_the_manifest_as_in_ipt_qa_add(tiny_corpus, tmp_path):
    """One rule for "the same text": the manifest only caught other line ends while `ipt-qa add` caught any
    other spacing, so a copy re-wrapped or re-indented was refused by add but accepted in sources.toml."""
    from qa.ingest.add import add_source

    words = (tiny_corpus / "alpha.txt").read_text(encoding="utf-8").split()
    rewrapped = "\n".join("  ".join(words[i:i + 7]) for i in range(0, len(words), 7)) + "\n"
    copy = tmp_path / "alpha-copy.txt"
    copy.write_text(rewrapped, encoding="utf-8")
    with pytest.raises(CorpusError, match="same as source 'alpha'"):
        add_source(tiny_corpus, copy)
    (tiny_corpus / "beta.md").write_text(rewrapped, encoding="utf-8")
    with pytest.raises(CorpusError, match="same content as source 'alpha'"):
        load_corpus(tiny_corpus)


@pytest.mark.parametrize("breaker", BREAKERS + [only_page_chrome], ids=lambda f: f.__name__)
def test_bad_source_leaves_the_index_untouched(tiny_corpus, tmp_path, fake_embedder, breaker):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    before = {p.relative_to(index): p.read_bytes() for p in index.rglob("*") if p.is_file() and p.name != ".lock"}
    target = (index / "current").resolve()

    name = breaker(tiny_corpus)
    with pytest.raises(CorpusError) as err:
        build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    assert name in str(err.value)

    after = {p.relative_to(index): p.read_bytes() for p in index.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before
    assert (index / "current").resolve() == target
    loaded = load_index(index, settings=SETTINGS, check_corpus=False)
    assert [p.source_id for p in loaded.passages] == ["alpha", "alpha", "beta", "beta"]
