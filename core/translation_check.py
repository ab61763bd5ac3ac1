"""The checks behind `bin/messages check`: shop text that is not marked for translation, and a .po file that is
not complete, not current or not consistent with its English placeholders. Each check returns its findings as
lines to print; none means it passed. `python -m core.translation_check` runs them all (exit 1 on a finding)."""

import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parent.parent

# What stands in for a template tag, a variable or text marked for translation: not a letter, so it is never
# taken for an untranslated word, and it keeps an attribute's quotes balanced for the HTML parser.
MARK = "\ue000"
# Letters that are not words in any language: none yet. Add one here only with a reason next to it.
NOT_WORDS = frozenset()
# Attributes whose values a person reads (or hears from a screen reader); every other value is a machine's
# (class names, ids, URLs, input names).
HUMAN_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder"})
# <meta name="description" content="...">: the text a search engine shows.
HUMAN_META = frozenset({"description"})
TRANSLATED_BLOCKS = {"blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans", "comment": "endcomment"}
# {% block %}s whose content lands inside a tag or a <style> of the admin's base template, never in its text.
NOT_TEXT_BLOCKS = frozenset({"bodyclass", "extrastyle"})
WORD = re.compile(r"[^\W\d_]+")


def shadow(source):
    """The template's source with every tag, variable, comment and translated block replaced by MARK, line
    breaks kept (so line numbers stay right): the text left is what the template writes as it is."""
    tokens = Lexer(source).tokenize()
    parts, closing = [], None
    for index, token in enumerate(tokens):
        following = tokens[index + 1].lineno if index + 1 < len(tokens) else None
        if token.token_type == TokenType.TEXT:
            text = token.contents
        else:
            text = MARK + "\n" * ((following - token.lineno) if following else 0)
        if closing is not None:
            if token.token_type == TokenType.BLOCK and token.contents.split()[0] == closing:
                closing = None
            parts.append(MARK + "\n" * text.count("\n"))
            continue
        bits = token.contents.split() if token.token_type == TokenType.BLOCK else [""]
        if bits[0] in TRANSLATED_BLOCKS:
            closing = TRANSLATED_BLOCKS[bits[0]]
        elif bits[0] == "block" and len(bits) > 1 and bits[1] in NOT_TEXT_BLOCKS:
            closing = "endblock"
        parts.append(text)
    # A tag whose name a template tag chooses (<{% if link %}a{% else %}button{% endif %} ...>) is still a tag.
    return "".join(parts).replace("<" + MARK, "<chosen " + MARK)


def words(text):
    return [word for word in WORD.findall(text) if word not in NOT_WORDS]


class _TextFinder(HTMLParser):
    """Collects (line, text) of the text nodes and human attribute values that have words in them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        human = [value for name, value in attrs if name in HUMAN_ATTRIBUTES]
        if tag == "meta" and (values.get("name") or values.get("property", "")).lower() in HUMAN_META:
            human.append(values.get("content"))
        line = self.getpos()[0]
        self.found += [(line, value) for value in human if value and words(value)]
        if tag in ("script", "style"):
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if self.skipping:
            return
        line, offset = self.getpos()[0], 0
        for piece in data.split(MARK):  # each run of text between two template tags on its own
            if words(piece):
                lead = len(piece) - len(piece.lstrip())
                self.found.append((line + data[: offset + lead].count("\n"), piece))
            offset += len(piece) + 1


def untranslated_text(source, *, html=True):
    """[(line, text)] of the words a template shows that are outside {% translate %}/{% blocktranslate %}.
    `html=False` for a plain-text template (an email body or subject): all its text is text."""
    text = shadow(source)
    if html:
        finder = _TextFinder()
        finder.feed(text)
        finder.close()
        found = finder.found
    else:
        found = [(number, line) for number, line in enumerate(text.splitlines(), 1) if words(line)]
    shown = (" ".join(value.strip(MARK + " \t\n").replace(MARK, "…").split()) for _, value in found)
    return [(line, re.sub("…+", "…", text)) for (line, _), text in zip(found, shown)]


def check_templates(directory=ROOT / "templates"):
    findings = []
    for path in sorted(Path(directory).rglob("*")):
        if path.suffix not in (".html", ".txt"):
            continue
        for line, text in untranslated_text(path.read_text(), html=path.suffix == ".html"):
            findings.append(f"{path.relative_to(directory.parent)}:{line}: not marked for translation: {text}")
    return findings


def _msgids(po, *options):
    """The msgids of `po` (the header left out) that `msgattrib options` selects, each joined into one line."""
    output = subprocess.run(["msgattrib", *options, str(po)], capture_output=True, text=True, check=True).stdout
    blocks = re.findall(r'^msgid ((?:".*"\n)+)', output, re.MULTILINE)
    return {"".join(re.findall(r'"(.*)"', block)) for block in blocks} - {""}


def check_catalog(po):
    """Every message of `po` translated (not empty, not fuzzy), and its placeholders as in the English."""
    po = Path(po)
    name = po.relative_to(ROOT) if po.is_relative_to(ROOT) else po
    findings = [
        f"{name}: no translation for: {msgid}" for msgid in sorted(_msgids(po, "--untranslated", "--no-obsolete"))
    ]
    findings += [f"{name}: fuzzy (a guess, not used): {msgid}" for msgid in sorted(_msgids(po, "--only-fuzzy"))]
    checked = subprocess.run(
        ["msgfmt", "--check-format", "--output-file=/dev/null", str(po)], capture_output=True, text=True
    )
    if checked.returncode != 0:
        findings += checked.stderr.strip().splitlines()
    return findings


def check_current(root=ROOT):
    """The .po files hold the strings the code and templates mark today: `bin/messages update` in a copy of the
    tree adds no msgid and drops none."""
    findings = []
    with tempfile.TemporaryDirectory(prefix="messages-") as scratch:
        copy = Path(scratch) / "tree"
        ignore = shutil.ignore_patterns(
            ".*", "var", "webroot", "media", "staticfiles", "test-artifacts", "__pycache__", "*.mo", "*.sqlite3*"
        )
        shutil.copytree(root, copy, ignore=ignore, symlinks=True)
        (copy / ".venv").symlink_to((root / ".venv").resolve())
        update = subprocess.run(["bin/messages", "update"], cwd=copy, capture_output=True, text=True)
        if update.returncode != 0:
            return [f"bin/messages update failed: {update.stderr.strip()[-2000:]}"]
        for fresh in sorted(copy.glob("locale/*/LC_MESSAGES/django.po")):
            committed = root / fresh.relative_to(copy)
            now, before = _msgids(fresh), _msgids(committed) if committed.exists() else set()
            findings += [
                f"{committed.relative_to(root)}: missing (run bin/messages update): {m}" for m in sorted(now - before)
            ]
            findings += [
                f"{committed.relative_to(root)}: no longer used (run bin/messages update): {m}"
                for m in sorted(before - now)
            ]
    return findings


def main():
    findings = check_templates()
    for po in sorted(ROOT.glob("locale/*/LC_MESSAGES/django.po")):
        findings += check_catalog(po)
    findings += check_current()
    print("\n".join(findings) or "translations: every shop text is marked, translated and current")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
