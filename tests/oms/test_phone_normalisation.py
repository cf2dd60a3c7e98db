"""Phone numbers as customers in MA, EG, AE and LB type them (reference
partners §D.3), read into E.164 with the original kept."""

from __future__ import annotations

import pytest

from fulfilment.adapters.phones import normalise_phone


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("0661234567", "MA", "+212661234567"),
        ("0761234567", "MA", "+212761234567"),
        ("06 12 34 56 78", "MA", "+212612345678"),
        ("01001234567", "EG", "+201001234567"),
        ("0551234567", "AE", "+971551234567"),
        ("050 123 4567", "AE", "+971501234567"),
        ("03 123 456", "LB", "+9613123456"),
        ("70 123 456", "LB", "+96170123456"),
        ("81 234 567", "LB", "+96181234567"),
    ],
)
def test_reads_local_mobile_formats_of_the_store_country(
    raw: str, country: str, e164: str
) -> None:
    phone = normalise_phone(raw, country)

    assert phone is not None
    assert (phone.original, phone.e164, phone.is_mobile) == (raw, e164, True)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("0522 98 76 54", "MA", "+212522987654"),
        ("0227351234", "EG", "+20227351234"),
        ("04 321 4567", "AE", "+97143214567"),
        ("01 345 678", "LB", "+9611345678"),
    ],
)
def test_reads_fixed_lines_and_says_they_are_not_mobile(
    raw: str, country: str, e164: str
) -> None:
    phone = normalise_phone(raw, country)

    assert phone is not None
    assert (phone.e164, phone.is_mobile) == (e164, False)


@pytest.mark.parametrize(
    ("raw", "country"),
    [("٠٦٦١٢٣٤٥٦٧", "MA"), ("۰۶۶۱۲۳۴۵۶۷", "MA")],
)
def test_reads_arabic_indic_digits(raw: str, country: str) -> None:
    phone = normalise_phone(raw, country)

    assert phone is not None
    assert phone.e164 == "+212661234567"
    assert phone.original == raw


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+971 0551234567", "AE", "+971551234567"),
        ("+212 (0)6 61 23 45 67", "MA", "+212661234567"),
        ("+20 01001234567", None, "+201001234567"),
    ],
)
def test_drops_a_stray_trunk_zero_after_the_country_code(
    raw: str, country: str | None, e164: str
) -> None:
    phone = normalise_phone(raw, country)

    assert phone is not None
    assert phone.e164 == e164


def test_reads_the_00_international_prefix_with_or_without_a_country() -> None:
    with_country = normalise_phone("00201001234567", "EG")
    without_country = normalise_phone("00212661234567", None)

    assert with_country is not None
    assert with_country.e164 == "+201001234567"
    assert without_country is not None
    assert without_country.e164 == "+212661234567"


def test_an_international_number_is_read_whatever_the_store_country() -> None:
    phone = normalise_phone("+212 6 70 11 22 33", "EG")

    assert phone is not None
    assert phone.e164 == "+212670112233"


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("01x 23", "EG"),
        ("لا يوجد", "EG"),
        ("12345", "EG"),
        ("0100 12", "EG"),
        ("N/A", "MA"),
        ("0612345", "MA"),
    ],
)
def test_keeps_an_unreadable_number_without_e164(raw: str, country: str) -> None:
    phone = normalise_phone(raw, country)

    assert phone is not None
    assert (phone.original, phone.e164, phone.is_mobile) == (raw, None, None)


def test_a_plausible_number_missing_from_the_metadata_is_kept_softly() -> None:
    # New Lebanese ranges reach phonenumbers' metadata late (reference §H.8).
    phone = normalise_phone("78 123 456", "LB")

    assert phone is not None
    assert (phone.e164, phone.is_mobile) == ("+96178123456", None)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_text_is_no_phone(raw: str | None) -> None:
    assert normalise_phone(raw, "MA") is None
