"""The baseline: one request at a time through python-quickbooks, as a hand-built sync does.

For each event in order: look a new customer up by name and create it (cached after),
create the invoice, create the payment linked to it. A 429 (the library cannot read the
XML throttle answer) is waited out for a second and retried; nothing else is retried.
The library uses `requests` underneath, which is why this lives in bench/ only.
"""

import json
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quickbooks import QuickBooks  # type: ignore[import-untyped]
from quickbooks.exceptions import QuickbooksException  # type: ignore[import-untyped]
from quickbooks.objects.base import EmailAddress, LinkedTxn  # type: ignore[import-untyped]
from quickbooks.objects.customer import Customer  # type: ignore[import-untyped]
from quickbooks.objects.detailline import (  # type: ignore[import-untyped]
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice  # type: ignore[import-untyped]
from quickbooks.objects.item import Item  # type: ignore[import-untyped]
from quickbooks.objects.payment import Payment, PaymentLine  # type: ignore[import-untyped]
from requests_oauthlib import OAuth2Session  # type: ignore[import-untyped]


@dataclass
class NaiveResult:
    entities: int
    seconds: float
    requests: int
    throttled: int


def client(base_url: str, realm_id: str, access_token: str) -> Any:
    """A python-quickbooks client whose API URL is the emulator's."""
    # requests-oauthlib refuses plain http; the emulator on 127.0.0.1 has no TLS.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    qb = QuickBooks(company_id=realm_id, minorversion=75)
    qb.api_url_v3 = f"{base_url}/v3"  # instead of Intuit's production host
    qb.session = OAuth2Session("qbsync-dev", token={"access_token": access_token})
    return qb


class _Loop:
    def __init__(self, qb: Any) -> None:
        self.qb = qb
        self.requests = self.throttled = 0

    def call(self, action: Any) -> Any:
        while True:
            self.requests += 1
            try:
                return action()
            except QuickbooksException as exc:
                if "ThrottleExceeded" not in str(exc.message) and "429" not in str(exc.message):
                    raise
                self.throttled += 1
                time.sleep(1)


def run_naive(qb: Any, events: list[bytes]) -> NaiveResult:
    """Post invoice.issued and payment.received events one request at a time."""
    loop = _Loop(qb)
    started = time.monotonic()
    item = loop.call(lambda: Item.filter(Name="Services", qb=qb))[0]
    customers: dict[str, Any] = {}
    invoices: dict[str, Any] = {}
    entities = 0
    for raw in events:
        event = json.loads(raw, parse_float=Decimal)
        data = event["data"]
        name = data["customer"]["name"]
        if name not in customers:
            found = loop.call(lambda n=name: Customer.filter(DisplayName=n, qb=qb))
            if found:
                customers[name] = found[0]
            else:
                customer = Customer()
                customer.DisplayName = name
                customer.PrimaryEmailAddr = EmailAddress()
                customer.PrimaryEmailAddr.Address = data["customer"]["email"]
                customers[name] = loop.call(lambda c=customer: c.save(qb=qb))
                entities += 1
        if event["type"] == "invoice.issued":
            invoice = Invoice()
            invoice.DocNumber = data["number"]
            invoice.TxnDate = data["issue_date"]
            invoice.CustomerRef = customers[name].to_ref()
            for line in data["lines"]:
                qbo_line = SalesItemLine()
                qbo_line.Amount = Decimal(line["amount"])
                qbo_line.Description = line["description"]
                detail = SalesItemLineDetail()
                detail.ItemRef = item.to_ref()
                detail.Qty = Decimal(line["quantity"])
                detail.UnitPrice = Decimal(line["unit_price"])
                qbo_line.SalesItemLineDetail = detail
                invoice.Line.append(qbo_line)
            invoices[data["ref"]] = loop.call(lambda i=invoice: i.save(qb=qb))
        else:
            payment = Payment()
            payment.TotalAmt = Decimal(data["amount"])
            payment.CustomerRef = customers[name].to_ref()
            payment.PaymentRefNum = data["ref"]
            link = LinkedTxn()
            link.TxnId = invoices[data["invoice_ref"]].Id
            link.TxnType = "Invoice"
            line = PaymentLine()
            line.Amount = Decimal(data["amount"])
            line.LinkedTxn.append(link)
            payment.Line.append(line)
            loop.call(lambda p=payment: p.save(qb=qb))
        entities += 1
    return NaiveResult(entities, time.monotonic() - started, loop.requests, loop.throttled)
