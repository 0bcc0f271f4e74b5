"""A freshly created sandbox company: chart of accounts, items, tax codes, payment methods."""

from __future__ import annotations

from decimal import Decimal

from qbsync_sandbox.store import Json, Realm

CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar",
}

# (Name, AccountType, AccountSubType, Classification)
ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("Checking", "Bank", "Checking", "Asset"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("Sales", "Income", "SalesOfProductIncome", "Revenue"),
    ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("Discounts given", "Income", "DiscountsRefundsGiven", "Revenue"),
    ("Bank Charges", "Expense", "BankCharges", "Expense"),
    ("Refunds", "Expense", "OtherMiscellaneousServiceCost", "Expense"),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", "Expense"),
    ("Payments in transit", "Other Current Liability", "OtherCurrentLiabilities", "Liability"),
    ("Sales Tax Payable", "Other Current Liability", "SalesTaxPayable", "Liability"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
    ("Visa Credit Card", "Credit Card", "CreditCard", "Liability"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity", "Equity"),
)

ITEMS: tuple[tuple[str, str, Decimal], ...] = (
    ("Services", "Services", Decimal("100")),
    ("Consulting", "Services", Decimal("150")),
    ("Hours", "Services", Decimal("75")),
    ("Shipping", "Sales", Decimal("10")),
)

PAYMENT_METHODS: tuple[tuple[str, str], ...] = (
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("American Express", "CREDIT_CARD"),
)


def currency_ref(code: str) -> Json:
    """Build a CurrencyRef for an ISO code."""
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def account_by_name(realm: Realm, name: str) -> Json:
    """Find a seeded account by name (raises KeyError if renamed away)."""
    for account in realm.all("Account"):
        if account["Name"] == name:
            return account
    raise KeyError(name)


def seed_realm(realm: Realm, *, multicurrency: bool = False) -> None:
    """Fill a new realm with the objects a fresh QBO sandbox company has."""
    home = currency_ref(realm.home_currency)
    for name, account_type, sub_type, classification in ACCOUNTS:
        realm.insert(
            "Account",
            {
                "Name": name,
                "FullyQualifiedName": name,
                "SubAccount": False,
                "Active": True,
                "Classification": classification,
                "AccountType": account_type,
                "AccountSubType": sub_type,
                "CurrentBalance": Decimal(0),
                "CurrentBalanceWithSubAccounts": Decimal(0),
                "CurrencyRef": dict(home),
            },
        )
    for name, account_name, price in ITEMS:
        account = account_by_name(realm, account_name)
        realm.insert(
            "Item",
            {
                "Name": name,
                "FullyQualifiedName": name,
                "Active": True,
                "Type": "Service",
                "Taxable": False,
                "UnitPrice": price,
                "IncomeAccountRef": {"value": account["Id"], "name": account["Name"]},
                "TrackQtyOnHand": False,
            },
        )
    rate = realm.insert(
        "TaxRate",
        {
            "Name": "State sales tax",
            "Active": True,
            "RateValue": Decimal(8),
            "SpecialTaxType": "NONE",
        },
    )
    realm.insert(
        "TaxCode",
        {
            "Name": "TAX",
            "Description": "Taxable",
            "Active": True,
            "Taxable": True,
            "TaxGroup": False,
            "SalesTaxRateList": {
                "TaxRateDetail": [{"TaxRateRef": {"value": rate["Id"], "name": rate["Name"]}}]
            },
        },
        entity_id="TAX",
    )
    realm.insert(
        "TaxCode",
        {
            "Name": "NON",
            "Description": "Non-taxable",
            "Active": True,
            "Taxable": False,
            "TaxGroup": False,
        },
        entity_id="NON",
    )
    for name, method_type in PAYMENT_METHODS:
        realm.insert("PaymentMethod", {"Name": name, "Active": True, "Type": method_type})
    realm.insert(
        "Preferences",
        {
            "SalesFormsPrefs": {
                "CustomTxnNumbers": True,
                "AutoApplyCredit": False,
                "AutoApplyPayments": False,
                "AllowDiscount": True,
                "DefaultTerms": {"value": "3"},
            },
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": multicurrency,
                "HomeCurrency": {"value": realm.home_currency},
            },
            "AccountingInfoPrefs": {"TrackDepartments": True, "ClassTrackingPerTxnLine": True},
            "TaxPrefs": {"UsingSalesTax": True},
        },
        entity_id="1",
    )
    realm.insert(
        "CompanyInfo",
        {
            "CompanyName": realm.name,
            "LegalName": realm.name,
            "Country": "US",
            "CompanyAddr": {
                "Line1": "2700 Coast Ave",
                "City": "Mountain View",
                "CountrySubDivisionCode": "CA",
                "PostalCode": "94043",
            },
            "SupportedLanguages": "en",
            "FiscalYearStartMonth": "January",
        },
        entity_id="1",
    )
