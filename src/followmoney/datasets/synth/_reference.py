"""Fixed reference data of the synthetic world: rates, names, merchant categories, regions.

Nothing here is drawn at random: the generator draws from these tables.
"""

from __future__ import annotations

from followmoney.core import schema

# Approximate units of currency per USD, only to give background amounts plausible
# magnitudes in the jurisdiction's currency (thresholds always come from config).
_FX_PER_USD = {"USD": 1.0, "AUD": 1.5, "CAD": 1.35, "NZD": 1.65, "IDR": 16000.0, "MYR": 4.5,
               "PHP": 56.0, "THB": 35.0, "SGD": 1.35, "AED": 3.67}  # fmt: skip
_PHONE_CC = {"US": "1", "CA": "1", "AU": "61", "NZ": "64", "ID": "62", "MY": "60", "PH": "63",
             "TH": "66", "SG": "65", "AE": "971"}  # fmt: skip

_GIVEN = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gabe", "Hana", "Ivan", "Jae", "Kofi", "Lena",
          "Mara", "Nico", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Xena",
          "Yusuf", "Zoe", "Ari", "Bea", "Cruz", "Dewi")  # fmt: skip
_FAMILY = ("Abara", "Bello", "Castor", "Dunmore", "Estrada", "Farrow", "Gunawan", "Halvorsen", "Ilori",
           "Jaramillo", "Kestrel", "Lindqvist", "Moraes", "Nakamura", "Okafor", "Pratama", "Quillan",
           "Rasmussen", "Santoso", "Thorne", "Ueda", "Valdivia", "Whitlock", "Xiong", "Yilmaz", "Zamora",
           "Ashby", "Brannock", "Corwin", "Delacroix", "Everly", "Fairweather", "Goswami", "Hollis",
           "Iversen", "Jovanovic", "Kaplan", "Lockhart", "Mbeki", "Northcott")  # fmt: skip
_BIZ_A = ("Blue", "North", "Granite", "Harbor", "Maple", "Summit", "Silver", "Cedar", "Prairie", "Coastal",
          "Evergreen", "Golden", "Lakeside", "Pioneer", "Redwood", "Sunrise")  # fmt: skip
_BIZ_B = ("Logistics", "Foods", "Builders", "Clinic", "Motors", "Textiles", "Farms", "Cleaning", "Systems",
          "Hospitality", "Supplies", "Studios", "Works", "Care", "Freight", "Trading")  # fmt: skip
_STREETS = ("Oak", "Pine", "Elm", "Birch", "Willow", "Main", "River", "Hill", "Park", "Lake", "Station",
            "Market", "Church", "Mill", "Bridge")  # fmt: skip

# MCC table: code, label, share of local merchants, everyday popularity, median USD,
# sigma, local opening hours (lo, hi; hi may pass midnight), online.
_MCCS = [
    ("5411", "GROCERY", 0.16, 3.0, 45, 0.7, (8, 21), False),
    ("5812", "RESTAURANT", 0.12, 1.5, 35, 0.6, (11, 23), False),
    ("5814", "FAST FOOD", 0.10, 2.0, 12, 0.5, (7, 23), False),
    ("5541", "FUEL", 0.07, 1.5, 45, 0.4, (6, 22), False),
    ("5912", "PHARMACY", 0.05, 1.0, 25, 0.7, (8, 21), False),
    ("5311", "DEPT STORE", 0.04, 1.0, 60, 0.8, (9, 21), False),
    ("5651", "CLOTHING", 0.06, 0.8, 55, 0.7, (10, 20), False),
    ("5732", "ELECTRONICS", 0.03, 0.4, 120, 0.9, (10, 20), False),
    ("5813", "BAR", 0.04, 0.8, 30, 0.6, (18, 25), False),
    ("7230", "BEAUTY SALON", 0.04, 0.5, 40, 0.5, (9, 19), False),
    ("5977", "COSMETICS", 0.02, 0.3, 30, 0.6, (10, 20), False),
    ("4121", "TAXI", 0.05, 0.6, 18, 0.5, (6, 26), False),
    ("7011", "HOTEL", 0.07, 0.0, 130, 0.4, (10, 22), False),
    ("4814", "TELECOM", 0.02, 0.6, 30, 0.3, (0, 24), True),
    ("4899", "STREAMING", 0.02, 0.8, 13, 0.3, (0, 24), True),
    ("5999", "MARKETPLACE", 0.04, 1.5, 40, 0.9, (0, 24), True),
    ("4511", "AIRLINE", 0.02, 0.0, 300, 0.6, (0, 24), True),
    ("4112", "RAIL", 0.01, 0.0, 80, 0.5, (0, 24), True),
    ("4131", "BUS LINES", 0.01, 0.0, 45, 0.5, (0, 24), True),
    ("7512", "CAR RENTAL", 0.01, 0.0, 180, 0.5, (8, 20), False),
    ("7273", "DATING", 0.01, 0.0, 25, 0.2, (0, 24), True),
    ("7311", "CLASSIFIEDS", 0.01, 0.0, 150, 0.8, (0, 24), True),
]
_CASH_HEAVY = {"5411", "5812", "5814", "5813", "7230", "5541"}
_REMIT_COUNTRIES = (("MX", 25), ("IN", 15), ("PH", 10), ("CN", 8), ("GT", 6), ("SV", 5), ("HN", 5),
                    ("DO", 4), ("CO", 4), ("VN", 4), ("NG", 4), ("PL", 3), ("GB", 3), ("KE", 2), ("DE", 2))  # fmt: skip
_AD_SITE_COUNTRIES = ("NL", "CY", "MT")
_N_REGIONS = 10
_N_BORDER = 2  # the last regions are border / transit areas (HS-01)
_POS_BASE = 9 * _N_REGIONS  # place index of the first card terminal (after 6 ATMs and 3 branches per region)

# account kinds
_PERSON, _EMPLOYER, _MERCHANT, _UTILITY, _PROPERTY, _GOV, _FOREIGN = range(7)
_CH = {c: i for i, c in enumerate(schema.CHANNELS)}
