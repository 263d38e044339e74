"""Amounts of money: integer minor units of an ISO 4217 currency, and their major-unit forms.

Owns the one table of minor-unit digits (``MINOR_DIGITS``) that pages, CSV exports and the API
read. Pure functions, no database, no state.
"""

from decimal import Decimal

# ISO 4217 currencies whose minor unit is not the cent; every other code has two decimals.
MINOR_DIGITS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"], 0),
    **dict.fromkeys(["RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def major_units(amount_minor: int, currency: str) -> Decimal:
    """``major_units(1234, "USD") == Decimal("12.34")``; exact, never through a float."""
    return Decimal(amount_minor).scaleb(-MINOR_DIGITS.get(currency, 2))


def money_display(minor: int, currency: str) -> str:
    """Format integer minor units for people: ``money_display(5, "USD") == "0.05 USD"``."""
    digits = MINOR_DIGITS.get(currency, 2)
    return f"{major_units(minor, currency):.{digits}f} {currency}"
