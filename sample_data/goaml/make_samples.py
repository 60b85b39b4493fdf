"""Write the synthetic goAML 5.0.2 (UAE-style) sample reports for followmoney's demo.

Every person, company, account, phone and document number here is invented.
"""
from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parent  # writes beside this script
OUT.mkdir(parents=True, exist_ok=True)

SHARED_PHONE = ("971", "500000101")
SHARED_ADDR = ("Flat 12, Example Residence, 0 Test Street", "Dubai", "Dubai")


def el(tag, value):
    return f"<{tag}>{escape(str(value))}</{tag}>"


def phone(prefix, number, kind="PRIVT", comm="M"):
    return [
        "<phone>",
        "  " + el("tph_contact_type", kind),
        "  " + el("tph_communication_type", comm),
        "  " + el("tph_country_prefix", prefix),
        "  " + el("tph_number", number),
        "</phone>",
    ]


def address(addr, city, state, country="AE", kind="RES"):
    return [
        "<address>",
        "  " + el("address_type", kind),
        "  " + el("address", addr),
        "  " + el("city", city),
        "  " + el("country_code", country),
        "  " + el("state", state),
        "</address>",
    ]


def person(first, last, *, gender=None, birth=None, id_number=None, nationality=None, residence="AE",
           phones=(), addresses=(), email=None, occupation=None, eid=None, my_client=False, tax_reg="N"):
    """t_person / t_person_my_client body lines (XSD element order)."""
    out = []
    if gender or my_client:
        out.append(el("gender", gender or "-"))
    out += [el("first_name", first), el("last_name", last)]
    if birth or my_client:
        out.append(el("birthdate", f"{birth}T00:00:00"))
    if id_number or my_client:
        out.append(el("id_number", id_number))
    if nationality or my_client:
        out.append(el("nationality1", nationality))
    if residence or my_client:
        out.append(el("residence", residence))
    if phones or my_client:
        out.append("<phones>")
        for p in phones:
            out += ["  " + l for l in phone(*p)]
        out.append("</phones>")
    if addresses:
        out.append("<addresses>")
        for a in addresses:
            out += ["  " + l for l in address(*a)]
        out.append("</addresses>")
    if email:
        out.append(el("email", email))
    if occupation:
        out.append(el("occupation", occupation))
    if eid:
        out += [
            "<identification>",
            "  " + el("type", "EID"),
            "  " + el("number", eid),
            "  " + el("issue_date", "2024-01-15T00:00:00"),
            "  " + el("expiry_date", "2029-01-14T00:00:00"),
            "  " + el("issue_country", "AE"),
            "</identification>",
        ]
    if my_client:
        out.append(el("tax_reg_number", tax_reg))
    return out


def wrap(tag, lines):
    return [f"<{tag}>"] + ["  " + l for l in lines] + [f"</{tag}>"]


# ---------------------------------------------------------------- the people
CONTROLLER = dict(
    first="Tariq", last="Fictus", gender="M", birth="1984-06-10", id_number="784000000000101",
    nationality="AE", residence="AE", phones=[SHARED_PHONE], addresses=[SHARED_ADDR + ("AE", "RES")],
    email="t.fictus@example.invalid", occupation="Self-employed events promoter", eid="784000000000101",
    my_client=True,
)
VICTIMS = [  # registered with the controller's phone number and address
    dict(first="Ana", last="Exemplo", gender="F", birth="2001-02-11", phones=[SHARED_PHONE],
         addresses=[SHARED_ADDR + ("AE", "RES")], occupation="Hostess"),
    dict(first="Mara", last="Testini", gender="F", birth="1999-09-23", phones=[SHARED_PHONE],
         addresses=[SHARED_ADDR + ("AE", "RES")], occupation="Hostess"),
    dict(first="Lina", last="Sampleton", gender="F", birth="2002-12-05", phones=[SHARED_PHONE],
         addresses=[SHARED_ADDR + ("AE", "RES")], occupation="Housemaid"),
]
OTHER_DEPOSITORS = [
    dict(first="Joy", last="Placeholder", gender="F", birth="1998-04-30", phones=[("971", "500000202")],
         addresses=[("Room 4, Sample Hostel, 1 Demo Road", "Dubai", "Dubai", "AE", "RES")]),
    dict(first="Nadia", last="Dummyova", gender="F", birth="2000-07-17", phones=[("971", "500000303")],
         addresses=[("Room 9, Sample Hostel, 1 Demo Road", "Dubai", "Dubai", "AE", "RES")]),
]

DEXB = dict(name="Desert Example Bank", code="DEXB")
GSMB = dict(name="Gulf Sample Bank", code="GSMB")
OTBK = dict(name="Oasis Test Bank", code="OTBK")
HDBK = dict(name="Harbour Demo Bank", code="HDBK")

CONTROLLER_ACCOUNT = "1001002001"
COORDINATOR_ACCOUNT = "2002003001"


def controller_account_my_client():
    return [
        el("institution_name", DEXB["name"]),
        el("institution_code", DEXB["code"]),
        el("non_bank_institution", "false"),
        el("branch", "Test Branch 1"),
        el("account", CONTROLLER_ACCOUNT),
        el("currency_code", "AED"),
        el("account_name", "Tariq Fictus"),
        el("personal_account_type", "B"),
        "<signatory>",
        "  " + el("is_primary", "1"),
        *["  " + l for l in wrap("t_person", person(**CONTROLLER))],
        "  " + el("role", "PAH"),
        "</signatory>",
        el("opened", "2025-11-03T00:00:00"),
        el("status_code", "A"),
        el("beneficiary", "Tariq Fictus"),
    ]


def coordinator_account_my_client():
    director = person("Victor", "Fakename", gender="M", birth="1979-03-21", nationality="AE", residence="AE",
                      phones=[("971", "500000404")], id_number="784000000000404")
    director_mc = dict(first="Victor", last="Fakename", gender="M", birth="1979-03-21", id_number="784000000000404",
                       nationality="AE", residence="AE", phones=[("971", "500000404")],
                       addresses=[("Office 3, Sample Business Centre", "Dubai", "Dubai", "AE", "BU")],
                       eid="784000000000404", my_client=True)
    entity = [
        el("name", "Sample Horizon Manpower LLC"),
        el("incorporation_legal_form", "-"),
        el("incorporation_number", "TL-000-0404"),
        el("business", "Labour supply services"),
        "<phones>", *["  " + l for l in phone("971", "40000404", "BU", "L")], "</phones>",
        "<addresses>",
        *["  " + l for l in address("Office 3, Sample Business Centre", "Dubai", "Dubai", "AE", "BU")],
        "</addresses>",
        el("incorporation_state", "Dubai"),
        el("incorporation_country_code", "AE"),
        *wrap("director_id", director + [el("role", "DIR")]),
        el("incorporation_date", "2025-08-01T00:00:00"),
        el("tax_reg_number", "N"),
    ]
    return [
        el("institution_name", GSMB["name"]),
        el("institution_code", GSMB["code"]),
        el("non_bank_institution", "false"),
        el("branch", "Test Branch 7"),
        el("account", COORDINATOR_ACCOUNT),
        el("currency_code", "AED"),
        el("account_name", "Sample Horizon Manpower LLC"),
        el("personal_account_type", "A"),
        *wrap("t_entity", entity),
        "<signatory>",
        "  " + el("is_primary", "1"),
        *["  " + l for l in wrap("t_person", person(**director_mc))],
        "  " + el("role", "AGENT"),
        "</signatory>",
        el("opened", "2025-09-14T00:00:00"),
        el("status_code", "A"),
        el("beneficiary", "Sample Horizon Manpower LLC"),
    ]


def other_account(bank, number, name):
    return [
        el("institution_name", bank["name"]),
        el("institution_code", bank["code"]),
        el("account", number),
        el("account_name", name),
    ]


def transaction(number, when, amount, desc, transmode, transmode_comment, from_tag, from_funds, from_kind,
                from_body, from_country, to_tag, to_funds, to_kind, to_body, to_country, location):
    return [
        "<transaction>",
        "  " + el("transactionnumber", number),
        "  " + el("internal_ref_number", "INT-" + number),
        "  " + el("transaction_location", location),
        "  " + el("transaction_description", desc),
        "  " + el("date_transaction", when),
        "  " + el("transmode_code", transmode),
        "  " + el("transmode_comment", transmode_comment),
        "  " + el("amount_local", amount),
        f"  <{from_tag}>",
        "    " + el("from_funds_code", from_funds),
        *["    " + l for l in wrap(f"from_{from_kind}", from_body)],
        "    " + el("from_country", from_country),
        f"  </{from_tag}>",
        f"  <{to_tag}>",
        "    " + el("to_funds_code", to_funds),
        *["    " + l for l in wrap(f"to_{to_kind}", to_body)],
        "    " + el("to_country", to_country),
        f"  </{to_tag}>",
        "</transaction>",
    ]


def cash_deposit(number, when, amount, depositor):
    return transaction(
        number, when, amount, "Cash deposit at teller by third party into customer account", "OCT",
        "-", "t_from", "CASH", "person", person(**depositor), "AE",
        "t_to_my_client", "DPOST", "account", controller_account_my_client(), "AE", "Test Branch 1",
    )


def transfer_in(number, when, amount, bank, acc, name, desc):
    return transaction(
        number, when, amount, desc, "ONBNK", "-",
        "t_from", "ELCFT", "account", other_account(bank, acc, name), "AE",
        "t_to_my_client", "ELCFT", "account", coordinator_account_my_client(), "AE", "Online",
    )


def reporting_person(first, last):
    return wrap("reporting_person", [
        el("gender", "-"), el("first_name", first), el("last_name", last),
        "<phones>", *["  " + l for l in phone("971", "40000999", "BU", "L")], "</phones>",
        el("occupation", "MLRO"),
    ])


def report(*, rentity, branch, code, ref, submitted, reason, action, body, indicators, mlro):
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        "<!-- Synthetic goAML report written for followmoney's demo: every name, number and",
        "     account in it is invented. Licence: Apache-2.0 (see README.md beside it). -->",
        "<report>",
        "  " + el("schema_version", "5.0.2"),
        "  " + el("rentity_id", rentity),
        "  " + el("rentity_branch", branch),
        "  " + el("submission_code", "E"),
        "  " + el("report_code", code),
        "  " + el("entity_reference", ref),
        "  " + el("submission_date", submitted),
        "  " + el("currency_code_local", "AED"),
        *["  " + l for l in reporting_person(*mlro)],
        "  " + el("reason", reason),
        "  " + el("action", action),
        *["  " + l for l in body],
        "  <report_indicators>",
        *["    " + el("indicator", i) for i in indicators],
        "  </report_indicators>",
        "</report>",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- report 1: STR, 3 cash deposits
r1_body = []
for i, (when, amount, who) in enumerate([
    ("2026-03-02T10:15:00", "48500.00", VICTIMS[0]),
    ("2026-03-02T15:40:00", "52000.00", VICTIMS[1]),
    ("2026-03-03T11:05:00", "45750.00", VICTIMS[2]),
], start=1):
    r1_body += cash_deposit(f"DEXB-TXN-00010{i}", when, amount, who)

(OUT / "str_2026_001.xml").write_text(report(
    rentity=9001, branch="DEXB-TEST-01", code="STR", ref="DEXB-STR-2026-001", submitted="2026-03-04T09:00:00",
    reason=("Three cash deposits of AED 45,750 to 52,000 into one personal account within two days, each below "
            "the AED 55,000 cash reporting threshold and each made by a different young woman. The depositors "
            "gave the account holder's own mobile number and home address as their contact details."),
    action="Account placed under enhanced monitoring; customer due diligence refreshed.",
    body=r1_body, indicators=["STRUC", "ML002", "CSUBS"], mlro=("Compliance", "Officerone"),
), encoding="utf-8")

# ---------------------------------------------------------------- report 2: STR follow-up, 2 more deposits
r2_body = []
for i, (when, amount, who) in enumerate([
    ("2026-03-04T09:50:00", "49900.00", OTHER_DEPOSITORS[0]),
    ("2026-03-05T16:20:00", "53200.00", OTHER_DEPOSITORS[1]),
], start=4):
    r2_body += cash_deposit(f"DEXB-TXN-00010{i}", when, amount, who)

(OUT / "str_2026_002.xml").write_text(report(
    rentity=9001, branch="DEXB-TEST-01", code="STR", ref="DEXB-STR-2026-002", submitted="2026-03-07T09:00:00",
    reason=("Follow-up to DEXB-STR-2026-001: two further third-party cash deposits of AED 49,900 and 53,200 into "
            "the same account, again just below the AED 55,000 threshold. Five depositors in four days."),
    action="Relationship under review; FIU informed of the continuing pattern.",
    body=r2_body, indicators=["STRUC", "ML002"], mlro=("Compliance", "Officerone"),
), encoding="utf-8")

# ---------------------------------------------------------------- report 3: STR at a second bank, fan-in
senders = [
    ("2026-03-08T10:00:00", "150000.00", DEXB, CONTROLLER_ACCOUNT, "Tariq Fictus", "Transfer - services"),
    ("2026-03-08T13:30:00", "4200.00", OTBK, "3003001101", "Ravi Sampleman", "Visa processing fee"),
    ("2026-03-09T09:10:00", "3850.00", OTBK, "3003001102", "Grace Testwell", "Job placement fee"),
    ("2026-03-10T11:45:00", "5100.00", HDBK, "4004001201", "Omar Dummyfield", "Recruitment fee"),
    ("2026-03-11T14:20:00", "4700.00", HDBK, "4004001202", "Ivy Placeholden", "Recruitment fee"),
    ("2026-03-12T08:55:00", "3990.00", DEXB, "1001002101", "Ken Fictor", "Accommodation deposit"),
    ("2026-03-13T17:05:00", "4450.00", OTBK, "3003001103", "Mina Exampleton", "Job placement fee"),
]
r3_body = []
for i, (when, amount, bank, acc, name, desc) in enumerate(senders, start=1):
    r3_body += transfer_in(f"GSMB-TXN-00020{i}", when, amount, bank, acc, name, desc)

(OUT / "str_2026_003.xml").write_text(report(
    rentity=9002, branch="GSMB-TEST-07", code="STR", ref="GSMB-STR-2026-003", submitted="2026-03-16T10:30:00",
    reason=("Corporate account of a labour-supply company received transfers from seven different senders in six "
            "days, described as visa, placement and recruitment fees paid by individuals, plus AED 150,000 from a "
            "personal account at another bank. The company holds no recruitment licence."),
    action="Outgoing payments held for review; account placed under enhanced monitoring.",
    body=r3_body, indicators=["MTOCB", "PESRA", "MURCW"], mlro=("Compliance", "Officertwo"),
), encoding="utf-8")

# ---------------------------------------------------------------- report 4: SAR, activity only
controller_party = wrap("report_party", [
    *wrap("person_my_client", person(**CONTROLLER)),
    el("significance", "9"),
    el("reason", ("Customer repeatedly escorted different young women to the branch, who deposited cash into his "
                  "account and did not speak for themselves; he held their documents.")),
])
account_party = wrap("report_party", [
    *wrap("account_my_client", controller_account_my_client()),
    el("significance", "8"),
    el("reason", "Account receiving the third-party cash deposits."),
])
(OUT / "sar_2026_004.xml").write_text(report(
    rentity=9001, branch="DEXB-TEST-01", code="SAR", ref="DEXB-SAR-2026-004", submitted="2026-03-18T12:00:00",
    reason=("Branch staff observed the customer accompanying the depositors of the structured cash deposits "
            "reported in DEXB-STR-2026-001 and -002, answering for them and holding their identity documents. "
            "Possible exploitation of the depositors."),
    action="Exit of the relationship under consideration; no tipping-off.",
    body=wrap("activity", wrap("report_parties", controller_party + account_party)),
    indicators=["IETHR", "CSUBS", "STRUC"], mlro=("Compliance", "Officerone"),
), encoding="utf-8")
print("written", sorted(p.name for p in OUT.glob("*.xml")))
