"""MariaDB 10.11's character sets and their collations, as data: what CREATE DATABASE accepts.

Read from a real MariaDB 10.11.19 server (information_schema.COLLATION_CHARACTER_SET_APPLICABILITY,
1,242 rows): each character set's collations, named without the ``<charset>_`` prefix, its
default first; ``binary`` has one collation, ``binary``. The Unicode sets also take every
``uca1400`` collation (UCA 14.0.0, MariaDB 10.10+): the languages below, each with or without
``_nopad``, in the four accent/case strengths. tests/unit/test_datastores.py counts them.
"""

COLLATIONS = {
    "armscii8": "general_ci bin general_nopad_ci nopad_bin",
    "ascii": "general_ci bin general_nopad_ci nopad_bin",
    "big5": "chinese_ci bin chinese_nopad_ci nopad_bin",
    "binary": "",
    "cp1250": "general_ci bin croatian_ci czech_cs general_nopad_ci nopad_bin polish_ci",
    "cp1251": "general_ci bin bulgarian_ci general_cs general_nopad_ci nopad_bin ukrainian_ci",
    "cp1256": "general_ci bin general_nopad_ci nopad_bin",
    "cp1257": "general_ci bin general_nopad_ci lithuanian_ci nopad_bin",
    "cp850": "general_ci bin general_nopad_ci nopad_bin",
    "cp852": "general_ci bin general_nopad_ci nopad_bin",
    "cp866": "general_ci bin general_nopad_ci nopad_bin",
    "cp932": "japanese_ci bin japanese_nopad_ci nopad_bin",
    "dec8": "swedish_ci bin nopad_bin swedish_nopad_ci",
    "eucjpms": "japanese_ci bin japanese_nopad_ci nopad_bin",
    "euckr": "korean_ci bin korean_nopad_ci nopad_bin",
    "gb2312": "chinese_ci bin chinese_nopad_ci nopad_bin",
    "gbk": "chinese_ci bin chinese_nopad_ci nopad_bin",
    "geostd8": "general_ci bin general_nopad_ci nopad_bin",
    "greek": "general_ci bin general_nopad_ci nopad_bin",
    "hebrew": "general_ci bin general_nopad_ci nopad_bin",
    "hp8": "english_ci bin english_nopad_ci nopad_bin",
    "keybcs2": "general_ci bin general_nopad_ci nopad_bin",
    "koi8r": "general_ci bin general_nopad_ci nopad_bin",
    "koi8u": "general_ci bin general_nopad_ci nopad_bin",
    "latin1": (
        "swedish_ci bin danish_ci general_ci general_cs german1_ci german2_ci nopad_bin "
        "spanish_ci swedish_nopad_ci"
    ),
    "latin2": "general_ci bin croatian_ci czech_cs general_nopad_ci hungarian_ci nopad_bin",
    "latin5": "turkish_ci bin nopad_bin turkish_nopad_ci",
    "latin7": "general_ci bin estonian_cs general_cs general_nopad_ci nopad_bin",
    "macce": "general_ci bin general_nopad_ci nopad_bin",
    "macroman": "general_ci bin general_nopad_ci nopad_bin",
    "sjis": "japanese_ci bin japanese_nopad_ci nopad_bin",
    "swe7": "swedish_ci bin nopad_bin swedish_nopad_ci",
    "tis620": "thai_ci bin nopad_bin thai_nopad_ci",
    "ucs2": (
        "general_ci bin croatian_ci croatian_mysql561_ci czech_ci danish_ci esperanto_ci "
        "estonian_ci general_mysql500_ci general_nopad_ci german2_ci hungarian_ci icelandic_ci "
        "latvian_ci lithuanian_ci myanmar_ci nopad_bin persian_ci polish_ci romanian_ci roman_ci "
        "sinhala_ci slovak_ci slovenian_ci spanish2_ci spanish_ci swedish_ci thai_520_w2 "
        "turkish_ci unicode_520_ci unicode_520_nopad_ci unicode_ci unicode_nopad_ci vietnamese_ci"
    ),
    "ujis": "japanese_ci bin japanese_nopad_ci nopad_bin",
    "utf16": (
        "general_ci bin croatian_ci croatian_mysql561_ci czech_ci danish_ci esperanto_ci "
        "estonian_ci general_nopad_ci german2_ci hungarian_ci icelandic_ci latvian_ci "
        "lithuanian_ci myanmar_ci nopad_bin persian_ci polish_ci romanian_ci roman_ci sinhala_ci "
        "slovak_ci slovenian_ci spanish2_ci spanish_ci swedish_ci thai_520_w2 turkish_ci "
        "unicode_520_ci unicode_520_nopad_ci unicode_ci unicode_nopad_ci vietnamese_ci"
    ),
    "utf16le": "general_ci bin general_nopad_ci nopad_bin",
    "utf32": (
        "general_ci bin croatian_ci croatian_mysql561_ci czech_ci danish_ci esperanto_ci "
        "estonian_ci general_nopad_ci german2_ci hungarian_ci icelandic_ci latvian_ci "
        "lithuanian_ci myanmar_ci nopad_bin persian_ci polish_ci romanian_ci roman_ci sinhala_ci "
        "slovak_ci slovenian_ci spanish2_ci spanish_ci swedish_ci thai_520_w2 turkish_ci "
        "unicode_520_ci unicode_520_nopad_ci unicode_ci unicode_nopad_ci vietnamese_ci"
    ),
    "utf8mb3": (
        "general_ci bin croatian_ci croatian_mysql561_ci czech_ci danish_ci esperanto_ci "
        "estonian_ci general_mysql500_ci general_nopad_ci german2_ci hungarian_ci icelandic_ci "
        "latvian_ci lithuanian_ci myanmar_ci nopad_bin persian_ci polish_ci romanian_ci roman_ci "
        "sinhala_ci slovak_ci slovenian_ci spanish2_ci spanish_ci swedish_ci thai_520_w2 "
        "turkish_ci unicode_520_ci unicode_520_nopad_ci unicode_ci unicode_nopad_ci vietnamese_ci"
    ),
    "utf8mb4": (
        "general_ci bin croatian_ci croatian_mysql561_ci czech_ci danish_ci esperanto_ci "
        "estonian_ci general_nopad_ci german2_ci hungarian_ci icelandic_ci latvian_ci "
        "lithuanian_ci myanmar_ci nopad_bin persian_ci polish_ci romanian_ci roman_ci sinhala_ci "
        "slovak_ci slovenian_ci spanish2_ci spanish_ci swedish_ci thai_520_w2 turkish_ci "
        "unicode_520_ci unicode_520_nopad_ci unicode_ci unicode_nopad_ci vietnamese_ci"
    ),
}

UCA1400_CHARSETS = ("ucs2", "utf16", "utf32", "utf8mb3", "utf8mb4")
UCA1400_LANGUAGES = (
    "", "croatian", "czech", "danish", "esperanto", "estonian", "german2", "hungarian", "icelandic",
    "latvian", "lithuanian", "persian", "polish", "roman", "romanian", "sinhala", "slovak", "slovenian",
    "spanish", "spanish2", "swedish", "turkish", "vietnamese")
UCA1400_STRENGTHS = ("ai_ci", "ai_cs", "as_ci", "as_cs")


def collations_of(charset):
    """Every collation of ``charset``, its default first."""
    names = [f"{charset}_{suffix}" for suffix in COLLATIONS[charset].split()] or [charset]
    if charset in UCA1400_CHARSETS:
        names += [f"{charset}_{'_'.join(filter(None, ('uca1400', language)))}{nopad}_{strength}"
                  for language in UCA1400_LANGUAGES for nopad in ("", "_nopad")
                  for strength in UCA1400_STRENGTHS]
    return names


CHARSET_OF = {collation: charset for charset in COLLATIONS for collation in collations_of(charset)}


def canonical(name):
    """MariaDB's names are case-insensitive; ``utf8`` is ``utf8mb3`` (10.11's old_mode)."""
    name = name.lower()
    return "utf8mb3" + name[4:] if name == "utf8" or name.startswith("utf8_") else name
